"""What an agent sets on itself: its webhook endpoint and its sender policies."""

from __future__ import annotations

from typing import Any

from quart import Blueprint

from actors import Principal, SetSenderPolicy, SetWebhookEndpoint, Ticket
from atp.api._requests import authenticate, idempotent, read_params
from atp.errors import InvalidSenderPolicy, NotFound
from atp.webhooks import check_webhook_url
from atp.wire import SenderPolicyBody, parse_body

__all__ = ["blueprint"]

blueprint = Blueprint("agents", __name__)


def _self_only(principal: Principal, agent_id: str) -> str:
    if principal.agent_id != agent_id:
        raise NotFound("agent")
    return agent_id


@blueprint.put("/api/agents/<agent_id>/webhook_endpoint")
async def set_webhook_endpoint(agent_id: str) -> tuple[dict[str, Any], int]:
    principal = await authenticate("agent")
    params = await read_params()

    async def build(ticket: Ticket) -> SetWebhookEndpoint:
        _self_only(principal, agent_id)
        url = check_webhook_url(params.get("url"))
        return SetWebhookEndpoint(principal.account_id, agent_id, url, ticket)

    # The contract's route string keeps the literal ":id" here (§2.6).
    return await idempotent(principal, "PUT /api/agents/:id/webhook_endpoint", params, build)


@blueprint.put("/api/agents/<agent_id>/sender_policies")
async def set_sender_policy(agent_id: str) -> tuple[dict[str, Any], int]:
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

    return await idempotent(principal, "PUT /api/agents/:id/sender_policies", params, build)
