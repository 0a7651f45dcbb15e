"""AMTP's agent routes: the admin's (``/v1/admin/agents``), the directory
(``/v1/discovery/agents``) and the gateway's capabilities (``/v1/capabilities/:domain``).

The admin is an account, by its account key (``X-Admin-Key``, as AMTP's admin tools
send it, or a bearer key); it registers its agents under names, each then
``name@ATP_DOMAIN``. A registration is kept for the name: asked again, with the same
body, it answers as the first time did (the key included), so a client that lost the
answer gets it back. The directory is public, as AMTP has it, and lists the agents
that have names: a name is how an agent is addressed over AMTP.
"""

from __future__ import annotations

import re
from typing import Any

from quart import Blueprint, Response, request

from atp.actors import Ticket
from atp.actors.commands import DeactivateAgent, RegisterAgent, SetWebhookEndpoint
from atp.actors.name_commands import ClaimName
from atp.amtp import AMTP_VERSION, AmtpError, parse_address, txt_value
from atp.api._liveness import liveness_document
from atp.api._requests import answer_once, carrier
from atp.api.a2a import public_base
from atp.api.amtp._edge import admin_caller, amtp_route, answer, read_json
from atp.api.amtp._schemas import check_patterns
from atp.domain import check_name, derived_id, remote_account_id, schema_matches
from atp.errors import AtpError
from atp.projections import DirectoryRow
from atp.webhooks import check_webhook_url
from atp.wire import MAX_PAYLOAD_BYTES, iso

__all__ = ["blueprint", "txt_record"]

blueprint = Blueprint("amtp_agents", __name__)

_REGISTER_SCOPE = "POST /v1/admin/agents"
_DNS_TTL = 300  # as AMTP's Appendix B publishes its record
_CREDENTIALS = re.compile(r"[A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]* [\x21-\x7e][\x20-\x7e]*")


class _RegistrationFailed(AmtpError):
    status, code, default = 400, "AGENT_REGISTRATION_FAILED", "the agent was not registered"


class _CapabilitiesNotFound(AmtpError):
    status, code, default = 404, "CAPABILITIES_NOT_FOUND", "that domain publishes no AMTP gateway"


class _AgentExists(AmtpError):
    status, code, default = 409, "AGENT_EXISTS", "another agent holds that name"


class _AgentNotFound(AmtpError):
    status, code, default = 404, "AGENT_NOT_FOUND", "the account has no agent of that name"


class _DomainNotFound(AmtpError):
    status, code, default = 404, "DOMAIN_NOT_FOUND", "this gateway does not serve that domain"


@blueprint.post("/v1/admin/agents")
@amtp_route
async def register() -> Response:
    principal = await admin_caller()
    body = await read_json()
    if not isinstance(body, dict):
        raise _RegistrationFailed("the body must be a JSON object")
    name = _name_of(body.get("address"))
    push_target, authorization = _push(body)
    if body.get("api_key") is not None:
        raise _RegistrationFailed("api_key: the gateway makes each agent's key")
    description = body.get("description")
    if description is not None and not isinstance(description, str):
        raise _RegistrationFailed("description must be a string")
    rt = carrier()
    holder = await rt.identities.named(name)
    if holder is not None and holder.status != "active":
        raise _AgentExists("the name was an agent's that is unregistered: names are not reused")
    schemas = await check_patterns(principal.account_id, body.get("supported_schemas"))

    async def build(ticket: Ticket) -> RegisterAgent:
        agent_id = derived_id("agt", ticket.scope)
        await rt.ask(ClaimName(name, agent_id, principal.account_id))
        return RegisterAgent(
            principal.account_id, None, description, ticket, agent_id, name, schemas
        )

    reply = await answer_once(principal, _REGISTER_SCOPE, name, body, build)
    registered = reply.body
    if push_target is not None:  # its pushes: signed Standard Webhooks (docs/api.md)

        async def endpoint(ticket: Ticket) -> SetWebhookEndpoint:
            return SetWebhookEndpoint(
                principal.account_id, registered["id"], push_target, authorization, ticket
            )

        await answer_once(principal, f"{_REGISTER_SCOPE} push", name, body, endpoint)
    agent = {
        "address": f"{name}@{rt.settings.domain}",
        "agent_id": registered["id"],
        "delivery_mode": "pull" if push_target is None else "push",
        "push_target": push_target,
        "api_key": registered["agent_api_key"]["token"],
        "supported_schemas": list(schemas),
        "requires_schema": bool(schemas),
        "description": registered["description"],
    }
    return answer({"message": "Agent registered successfully", "agent": agent}, 201)


@blueprint.delete("/v1/admin/agents/<address>")
@amtp_route
async def unregister(address: str) -> Response:
    """Unregister one of the account's agents (a bare name or its full address): its key
    stops working and nothing more reaches it; its name is not given to another."""
    principal = await admin_caller()
    name = _name_of(address)
    rt = carrier()
    agent = await rt.identities.named(name)
    if agent is None or agent.account_id != principal.account_id:
        raise _AgentNotFound(address=address)

    async def build(ticket: Ticket) -> DeactivateAgent:
        return DeactivateAgent(principal.account_id, agent.agent_id, ticket)

    reply = await answer_once(principal, "DELETE /v1/admin/agents", name, {}, build)
    return answer(reply.body, reply.status)


def _push(body: dict[str, Any]) -> tuple[str | None, str | None]:
    """A push agent's webhook URL (it passes the webhooks' SSRF checks) and the
    ``Authorization`` header its pushes carry, if its ``headers`` name one."""
    mode = body.get("delivery_mode", "pull")
    if mode not in ("pull", "push"):
        raise _RegistrationFailed("delivery_mode must be pull or push")
    if mode == "pull":
        return None, None
    allow_private = carrier().settings.webhook_allow_private
    try:
        url = check_webhook_url(body.get("push_target"), allow_private=allow_private)
    except AtpError as error:
        raise _RegistrationFailed(f"push_target: {error.message}") from None
    headers = body.get("headers") or {}
    if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
        raise _RegistrationFailed("headers must be an object of strings")
    extra = {k.lower() for k in headers} - {"authorization"}
    if extra:
        raise _RegistrationFailed("headers: only Authorization is sent with pushes")
    authorization = next((v for k, v in headers.items() if k.lower() == "authorization"), None)
    if authorization is not None and not _CREDENTIALS.fullmatch(authorization):
        raise _RegistrationFailed("headers.Authorization must be '<scheme> <credentials>'")
    return url, authorization


@blueprint.get("/v1/admin/agents")
@amtp_route
async def list_agents() -> Response:
    """The account's active agents, keyed by address; their keys are never shown again."""
    principal = await admin_caller()
    rt = carrier()
    views = await rt.views()
    rows = await views.amtp.agents(account_id=principal.account_id)
    agents = {}
    for row in rows:
        shown = await _directory_entry(row)
        agents[shown["address"]] = {**shown, "agent_id": row.agent_id, "api_key": ""}
    return answer({"agents": agents, "count": len(agents)})


@blueprint.get("/v1/discovery/agents")
@blueprint.get("/v1/discovery/agents/<domain>")
@amtp_route
async def discover(domain: str | None = None) -> Response:
    """The named agents of this gateway (§3.4), filtered by ``address``,
    ``delivery_mode``, ``active_only``, ``role``, ``capability`` and ``schema``."""
    rt = carrier()
    served = rt.settings.domain
    if domain is not None and domain.lower() != served:
        raise _DomainNotFound(requested_domain=domain, served_domain=served)
    args = request.args
    name = None
    if (wanted := args.get("address")) is not None:
        address = parse_address(wanted)
        if address is None or address.domain != served:
            return answer(_directory([], served, rt.now()))
        name = address.local.lower()
    views = await rt.views()
    entries = [await _directory_entry(row) for row in await views.amtp.agents(name=name)]
    if (mode := args.get("delivery_mode")) is not None:
        entries = [e for e in entries if e["delivery_mode"] == mode]
    if args.get("active_only", "").lower() == "true":
        entries = [e for e in entries if e["active"]]
    if (schema := args.get("schema")) is not None:
        entries = [e for e in entries if _accepts(e["supported_schemas"], schema)]
    # No agent declares a role or capabilities: those filters match none.
    if any(args.get(f) for f in ("role", "capability")):
        entries = []
    return answer(_directory(entries, served, rt.now()))


@blueprint.get("/v1/capabilities/<domain>")
@amtp_route
async def capabilities(domain: str) -> Response:
    """This gateway's capabilities, and the TXT record that publishes it; another
    domain's, from its TXT record."""
    rt = carrier()
    federation = rt.federation
    assert federation is not None, "the carrier serves with its federation wired"
    if domain.lower() != rt.settings.domain:
        record = await federation.directory.gateway(domain)
        if record is None:
            raise _CapabilitiesNotFound(domain=domain)
        return answer(
            {
                "version": AMTP_VERSION,
                "domain": domain.lower(),
                "gateway": record.gateway,
                "auth": list(record.auth),
                "max_size": record.max_size,
                "signed": record.public_key is not None,
                # What sender policies here call the domain's senders' account.
                "sender_account_id": remote_account_id(domain.lower()),
                "discovered_at": iso(rt.now()),
            }
        )
    gateway = public_base()
    views = await rt.views()
    declared = [p for row in await views.amtp.agents() for p in row.supported_schemas]
    return answer(
        {
            "version": AMTP_VERSION,
            "domain": rt.settings.domain,
            "gateway": gateway,
            "schemas": sorted(set(declared)),
            "auth": ["apikey"],
            "max_size": MAX_PAYLOAD_BYTES,
            "features": ["durable-path", "status-tracking", "agent-discovery", "idempotency"],
            "txt_record": txt_record(rt.settings.domain, gateway, federation.key.public_key),
            "ttl": _DNS_TTL,
            "discovered_at": iso(rt.now()),
        }
    )


def txt_record(domain: str, gateway: str, public_key: bytes) -> str:
    """The ``_amtp`` TXT record an operator publishes for this gateway (AMTP §3.1),
    with the key that signs its requests to other gateways."""
    value = txt_value(gateway, MAX_PAYLOAD_BYTES, public_key)
    return f'_amtp.{domain}. {_DNS_TTL} IN TXT "{value}"'


def _name_of(value: object) -> str:
    """The name a registration asks for: bare, or a full address of this domain."""
    if not isinstance(value, str) or not value.strip():
        raise _RegistrationFailed("address: a name, or name@domain")
    local, at, domain = value.strip().partition("@")
    if at and domain.lower() != carrier().settings.domain:
        raise _RegistrationFailed(
            "address: this gateway serves another domain",
            served_domain=carrier().settings.domain,
        )
    try:
        return check_name(local)
    except AtpError as error:
        raise _RegistrationFailed(f"address: {error.message}") from None


async def _directory_entry(row: DirectoryRow) -> dict[str, Any]:
    rt = carrier()
    liveness = await liveness_document(rt, row.agent_id)
    entry: dict[str, Any] = {
        "address": f"{row.name or row.agent_id}@{rt.settings.domain}",
        "delivery_mode": "push" if row.push else "pull",
        "capabilities": [],
        "supported_schemas": list(row.supported_schemas),
        "description": row.description,
        "created_at": row.created_at,
        "active": bool(liveness["reachable"]),
    }
    if liveness["last_seen_at"] is not None:
        entry["last_active"] = liveness["last_seen_at"]
    return entry


def _accepts(patterns: list[str], schema: str) -> bool:
    """Whether an agent declaring ``patterns`` takes ``schema`` (one that declares none
    takes any)."""
    return not patterns or schema in patterns or any(schema_matches(p, schema) for p in patterns)


def _directory(entries: list[dict[str, Any]], domain: str, now: Any) -> dict[str, Any]:
    return {"agents": entries, "agent_count": len(entries), "domain": domain, "timestamp": iso(now)}
