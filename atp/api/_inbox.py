"""Polling: claim from the inbox (one message or many, at once or held open: a long
poll), extend a lease, ACK."""

from __future__ import annotations

from functools import partial
from typing import Any

import attrs
import trio
from quart import Blueprint

from atp.actors import Ticket
from atp.actors.commands import ClaimInbox, Command, ExtendLease, RecordAck, Reply
from atp.api._requests import Answer, authenticate, carrier, idempotent, read_params
from atp.domain import AckStatus
from atp.errors import AckStatusRequired, InvalidAckStatus, InvalidLease, InvalidRequest
from atp.wire import AckBody, LeaseBody, WaitBody, check_payload, parse_body

__all__ = ["blueprint", "record_ack"]

blueprint = Blueprint("inbox", __name__)


@blueprint.post("/api/inbox/claims")
async def claim() -> Answer:
    principal = await authenticate("agent")
    assert principal.agent_id is not None
    agent_id = principal.agent_id
    params = await read_params()
    carrier().liveness.seen(agent_id)

    async def build(ticket: Ticket) -> ClaimInbox:
        body = parse_body(LeaseBody, params, InvalidLease)
        return ClaimInbox(agent_id, body.lease_seconds, ticket, most=options.max)

    options = parse_body(WaitBody, params, InvalidRequest)
    limit = carrier().settings.batch_max_messages
    if options.max is not None and options.max > limit:
        raise InvalidRequest(f"max: at most {limit}")
    if options.wait_seconds == 0:
        return await idempotent(principal, params, build)
    ask = partial(_long_poll, options.wait_seconds)
    return await idempotent(principal, params, build, ask=ask)


async def _long_poll(wait: float, command: Command) -> Reply:
    """Claim; while nothing is claimable, wait (at most ``wait`` s) for the mailbox's news.

    The mailbox signals after every commit and lease end; the event is taken before
    each ask, so news between an ask and the wait is not missed. Only the final answer
    is stored for idempotent replay.
    """
    assert isinstance(command, ClaimInbox)
    rt = carrier()
    deadline = trio.current_time() + wait
    with rt.liveness.waiting(command.recipient_agent_id):
        while trio.current_time() < deadline and not rt.arrivals.closed:
            news = rt.arrivals.event(command.recipient_agent_id)
            reply = await rt.ask(attrs.evolve(command, wait=True))
            if reply.kept:  # a claim, or the answer kept for this key
                return reply
            with trio.move_on_at(deadline):
                await news.wait()
    return await rt.ask(command)


@blueprint.post("/api/deliveries/<delivery_id>/extend")
async def extend(delivery_id: str) -> Answer:
    principal = await authenticate("agent")
    assert principal.agent_id is not None
    agent_id = principal.agent_id
    params = await read_params()

    async def build(ticket: Ticket) -> ExtendLease:
        body = parse_body(LeaseBody, params, InvalidLease)
        return ExtendLease(agent_id, delivery_id, body.lease_seconds, ticket)

    return await idempotent(principal, params, build)


@blueprint.post("/api/deliveries/<delivery_id>/acks")
async def ack(delivery_id: str) -> Answer:
    principal = await authenticate("agent")
    assert principal.agent_id is not None
    agent_id = principal.agent_id
    params = await read_params()
    carrier().liveness.seen(agent_id)

    async def build(ticket: Ticket) -> RecordAck:
        return record_ack(agent_id, delivery_id, params, ticket)

    return await idempotent(principal, params, build)


def record_ack(
    agent_id: str, delivery_id: str, params: dict[str, Any], ticket: Ticket
) -> RecordAck:
    """The ACK ``params`` ask for (``status``, ``payload``), checked.

    Raises:
        AckStatusRequired, InvalidAckStatus, PayloadTooLarge, InvalidA2AMessage.
    """
    if params.get("status") is None:
        raise AckStatusRequired()
    body = parse_body(AckBody, params, InvalidAckStatus)
    if body.payload is not None:
        check_payload(body.payload)
    return RecordAck(agent_id, delivery_id, AckStatus(body.status), body.payload, ticket)
