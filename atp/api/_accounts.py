"""``POST /api/accounts`` (public signup) and the agents of an account."""

from __future__ import annotations

from typing import Any

from quart import Blueprint

from atp.actors import Ticket
from atp.actors.commands import IssueAuditorKey, OpenAccount, RegisterAgent, RotateAgentKey
from atp.actors.name_commands import ClaimName
from atp.api._as_of import agent_as_of, as_of_position
from atp.api._liveness import liveness_document
from atp.api._requests import Answer, authenticate, carrier, idempotent, read_params
from atp.api.a2a import card_url
from atp.domain import check_name, derived_id, new_id
from atp.errors import InvalidAccount, InvalidRequest, NotFound
from atp.wire import AccountBody, AgentBody, agent_document, parse_body

__all__ = ["blueprint"]

blueprint = Blueprint("accounts", __name__)


@blueprint.post("/api/accounts")
async def open_account() -> Answer:
    """Sign up: a free account and its account key (no auth, no idempotency: contract §1.4)."""
    body = parse_body(AccountBody, await read_params(), InvalidAccount)
    reply = await carrier().ask(OpenAccount(new_id("acct"), body.name.strip()))
    return reply.body, reply.status


@blueprint.post("/api/agents")
async def register_agent() -> Answer:
    principal = await authenticate("account")
    params = await read_params()

    async def build(ticket: Ticket) -> RegisterAgent:
        body = parse_body(AgentBody, params, InvalidRequest)
        if body.name is None:
            return RegisterAgent(principal.account_id, body.display_name, body.description, ticket)
        # The name first: its actor gives it to this agent, or says who holds it. The
        # id follows from the request, so a retry after a failure claims it again.
        name, agent_id = check_name(body.name), derived_id("agt", ticket.scope)
        await carrier().ask(ClaimName(name, agent_id, principal.account_id))
        return RegisterAgent(
            principal.account_id, body.display_name, body.description, ticket, agent_id, name
        )

    return await idempotent(principal, params, build)


@blueprint.post("/api/auditor_keys")
async def issue_auditor_key() -> Answer:
    """A read-only key of the account's audit trail (events, histories, message statuses)."""
    principal = await authenticate("account")
    params = await read_params()

    async def build(ticket: Ticket) -> IssueAuditorKey:
        return IssueAuditorKey(principal.account_id, ticket)

    return await idempotent(principal, params, build)


@blueprint.get("/api/agents/<agent_id>")
async def show_agent(agent_id: str) -> dict[str, Any]:
    principal = await authenticate("account")
    params = await read_params()
    rt = carrier()
    views = await rt.views()
    agent = await views.agent(agent_id)
    if agent is None or agent.account_id != principal.account_id:
        raise NotFound("agent")
    if "as_of" in params:  # the agent as it was then
        position = await as_of_position(rt, params["as_of"])
        return agent_document(await agent_as_of(rt, agent_id, position))
    liveness = await liveness_document(rt, agent_id)
    document = {**agent.document(), "a2a_agent_card_url": card_url(agent_id), **liveness}
    named = await rt.identities.agent(agent_id)
    if named is not None and named.name is not None:
        document |= {"name": named.name, "amtp_address": f"{named.name}@{rt.settings.domain}"}
    return document


@blueprint.post("/api/agents/<agent_id>/keys")
async def rotate_agent_key(agent_id: str) -> Answer:
    principal = await authenticate("account")
    params = await read_params()

    async def build(ticket: Ticket) -> RotateAgentKey:
        return RotateAgentKey(principal.account_id, agent_id, ticket)

    return await idempotent(principal, params, build)
