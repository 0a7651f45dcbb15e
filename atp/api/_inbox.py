"""Polling: claim from the inbox, extend a lease, ACK a delivery."""

from __future__ import annotations

from typing import Any

from quart import Blueprint

from actors import ClaimInbox, ExtendLease, RecordAck, Ticket
from atp.api._requests import authenticate, idempotent, read_params
from atp.errors import AckStatusRequired, InvalidAckStatus, InvalidLease
from atp.wire import AckBody, LeaseBody, check_payload, parse_body

__all__ = ["blueprint"]

blueprint = Blueprint("inbox", __name__)


@blueprint.post("/api/inbox/claims")
async def claim() -> tuple[dict[str, Any], int]:
    principal = await authenticate("agent")
    assert principal.agent_id is not None
    agent_id = principal.agent_id
    params = await read_params()

    async def build(ticket: Ticket) -> ClaimInbox:
        body = parse_body(LeaseBody, params, InvalidLease)
        return ClaimInbox(agent_id, body.lease_seconds, ticket)

    return await idempotent(principal, "POST /api/inbox/claims", params, build)


@blueprint.post("/api/deliveries/<delivery_id>/extend")
async def extend(delivery_id: str) -> tuple[dict[str, Any], int]:
    principal = await authenticate("agent")
    assert principal.agent_id is not None
    agent_id = principal.agent_id
    params = await read_params()

    async def build(ticket: Ticket) -> ExtendLease:
        body = parse_body(LeaseBody, params, InvalidLease)
        return ExtendLease(agent_id, delivery_id, body.lease_seconds, ticket)

    return await idempotent(principal, f"POST /api/deliveries/{delivery_id}/extend", params, build)


@blueprint.post("/api/deliveries/<delivery_id>/acks")
async def ack(delivery_id: str) -> tuple[dict[str, Any], int]:
    principal = await authenticate("agent")
    assert principal.agent_id is not None
    agent_id = principal.agent_id
    params = await read_params()

    async def build(ticket: Ticket) -> RecordAck:
        if params.get("status") is None:
            raise AckStatusRequired()
        body = parse_body(AckBody, params, InvalidAckStatus)
        if body.payload is not None:
            check_payload(body.payload)
        return RecordAck(agent_id, delivery_id, body.status, body.payload, ticket)

    return await idempotent(principal, f"POST /api/deliveries/{delivery_id}/acks", params, build)
