"""What an agent sets on itself: its webhook endpoint, signing keys and sender policies."""

from __future__ import annotations

from typing import Any

from quart import Blueprint

from atp.actors import Principal, Ticket
from atp.actors.commands import RotateSigningKey, SetSenderPolicy, SetWebhookEndpoint
from atp.api._requests import Answer, authenticate, carrier, idempotent, read_params
from atp.domain import ENDPOINT_KINDS
from atp.errors import (
    InvalidRequest,
    InvalidSenderPolicy,
    InvalidWebhookAuthentication,
    NotFound,
)
from atp.webhooks import check_webhook_url
from atp.wire import (
    SenderPolicyBody,
    SigningKeyRotationBody,
    WebhookAuthentication,
    parse_body,
    signing_key_document,
)

__all__ = ["blueprint"]

blueprint = Blueprint("agents", __name__)


def _self_only(principal: Principal, agent_id: str) -> str:
    if principal.agent_id != agent_id:
        raise NotFound("agent")
    return agent_id


@blueprint.put("/api/agents/<agent_id>/webhook_endpoint")
async def set_webhook_endpoint(agent_id: str) -> Answer:
    principal = await authenticate("agent")
    params = await read_params()

    async def build(ticket: Ticket) -> SetWebhookEndpoint:
        _self_only(principal, agent_id)
        allow_private = carrier().settings.webhook_allow_private
        url = check_webhook_url(params.get("url"), allow_private=allow_private)
        authorization = None
        if params.get("authentication") is not None:
            authentication = params["authentication"]
            if not isinstance(authentication, dict):
                raise InvalidWebhookAuthentication()
            authorization = parse_body(
                WebhookAuthentication, authentication, InvalidWebhookAuthentication
            ).header
        kind = params.get("kind", "webhook")
        if kind not in ENDPOINT_KINDS:
            raise InvalidRequest("kind must be webhook or a2a")
        return SetWebhookEndpoint(principal.account_id, agent_id, url, authorization, ticket, kind)

    # The contract's route string keeps the literal ":id" here (§2.6).
    return await idempotent(principal, params, build)


@blueprint.post("/api/agents/<agent_id>/webhook_endpoint/signing_keys")
async def rotate_signing_key(agent_id: str) -> Answer:
    """Add an Ed25519 signing key; the old one keeps signing for ``overlap_seconds``."""
    principal = await authenticate("agent")
    params = await read_params()

    async def build(ticket: Ticket) -> RotateSigningKey:
        _self_only(principal, agent_id)
        body = parse_body(SigningKeyRotationBody, params, InvalidRequest)
        return RotateSigningKey(principal.account_id, agent_id, body.overlap_seconds, ticket)

    return await idempotent(principal, params, build)


@blueprint.get("/api/agents/<agent_id>/webhook_endpoint/signing_keys")
async def signing_keys(agent_id: str) -> dict[str, Any]:
    """The public keys that sign this agent's pushes now (the agent or its account asks)."""
    principal = await authenticate("account", "agent")
    rt = carrier()
    agent = await rt.identities.agent(agent_id)
    visible = agent is not None and (
        principal.agent_id == agent_id
        if principal.agent_id is not None
        else principal.account_id == agent.account_id
    )
    if agent is None or not visible:
        raise NotFound("agent")
    return {"signing_keys": [signing_key_document(k) for k in agent.live_signing_keys(rt.now())]}


@blueprint.put("/api/agents/<agent_id>/sender_policies")
async def set_sender_policy(agent_id: str) -> Answer:
    principal = await authenticate("agent")
    params = await read_params()

    async def build(ticket: Ticket) -> SetSenderPolicy:
        _self_only(principal, agent_id)
        body = parse_body(SenderPolicyBody, params, InvalidSenderPolicy)
        sender_agent = (
            body.sender_agent_id if body.sender_agent_id and body.sender_agent_id.strip() else None
        )
        sender_account = None if sender_agent else body.sender_account_id
        return SetSenderPolicy(
            principal.account_id, agent_id, body.effect, sender_agent, sender_account, ticket
        )

    return await idempotent(principal, params, build)
