"""Replays: a recipient's delivery history handed to it again (docs/api.md, "Replays").

A recipient replays one message (``POST /api/messages/:id/replay``) or the messages a
filter matches (``POST /api/replays``), to its webhook endpoint or its inbox. Either
way a supervised replay actor does the work and records it in the ledger; the answer
is the replay's handle, and ``GET /api/replays/:id`` shows its progress. The matching
messages are fixed here, when the replay starts.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import attrs
from quart import Blueprint

from atp.actors import Principal, Ticket
from atp.actors.replay_commands import CancelReplay, StartReplay
from atp.api._requests import Answer, authenticate, carrier, idempotent, read_params
from atp.domain import ADDRESS_PREFIX, Replay, aggregate_id, new_id
from atp.errors import InvalidRequest, MessageNotDelivered, NotFound, WebhookEndpointInactive
from atp.wire import ReplayBody, ReplayFilter, ReplaysBody, parse_body, replay_document

__all__ = ["MAX_REPLAY_MESSAGES", "blueprint"]

blueprint = Blueprint("replays", __name__)

MAX_REPLAY_MESSAGES = 10_000  # the matching set is kept in the replay's first event


@blueprint.post("/api/messages/<message_id>/replay")
async def replay_message(message_id: str) -> Answer:
    """Push one of the caller's messages again, or make it claimable again (``inbox``)."""
    principal = await authenticate("agent")
    params = await read_params()

    async def build(ticket: Ticket) -> StartReplay:
        body = parse_body(ReplayBody, params, InvalidRequest)
        rt = carrier()
        views = await rt.views()
        row = await views.message(message_id)
        if row is None or row.recipient_agent_id != principal.agent_id:
            raise NotFound("message")
        if not row.document["deliveries"]:
            raise MessageNotDelivered()
        await _check_target(principal, body.target)
        return _start(
            principal, body.target, attrs.asdict(ReplayFilter()), None, None, [message_id], ticket
        )

    return await idempotent(principal, params, build)


@blueprint.post("/api/replays")
async def start_replay() -> Answer:
    """Replay every message of the caller that matches the filter, at a bounded rate."""
    principal = await authenticate("agent")
    params = await read_params()

    async def build(ticket: Ticket) -> StartReplay:
        body = parse_body(ReplaysBody, params, InvalidRequest)
        await _check_target(principal, body.target)
        message_ids = await _matching(principal, body.filter)
        return _start(
            principal,
            body.target,
            attrs.asdict(body.filter),
            body.rate_per_second,
            body.name,
            message_ids,
            ticket,
        )

    return await idempotent(principal, params, build)


@blueprint.get("/api/replays/<replay_id>")
async def show_replay(replay_id: str) -> dict[str, Any]:
    """A replay and its progress, to the agent that started it or its account."""
    principal = await authenticate("agent", "account")
    return {"replay": replay_document(await _visible(principal, replay_id))}


@blueprint.post("/api/replays/<replay_id>/cancel")
async def cancel_replay(replay_id: str) -> Answer:
    """Stop a running replay before its next message."""
    principal = await authenticate("agent", "account")
    params = await read_params()

    async def build(ticket: Ticket) -> CancelReplay:
        await _visible(principal, replay_id)
        return CancelReplay(replay_id, principal.id, ticket)

    return await idempotent(principal, params, build)


def _start(
    principal: Principal,
    target: Any,
    filter_: dict[str, Any],
    rate: float | None,
    name: str | None,
    message_ids: list[str],
    ticket: Ticket,
) -> StartReplay:
    assert principal.agent_id is not None
    return StartReplay(
        new_id("rpl"),
        principal.account_id,
        principal.agent_id,
        target,
        filter_,
        rate,
        name,
        message_ids,
        ticket,
    )


async def _check_target(principal: Principal, target: str) -> None:
    """A push needs an endpoint to push to."""
    if target != "webhook":
        return
    assert principal.agent_id is not None
    agent = await carrier().identities.agent(principal.agent_id)
    if agent is None or not agent.webhook_active:
        raise WebhookEndpointInactive()


async def _matching(principal: Principal, wanted: ReplayFilter) -> list[str]:
    """The caller's messages ever handed out that the filter matches, in send order.

    Raises:
        InvalidRequest: more than ``MAX_REPLAY_MESSAGES`` match (a narrower window will do).
    """
    assert principal.agent_id is not None
    rt = carrier()
    views = await rt.views()
    sender = wanted.sender
    if sender is not None and sender.startswith(ADDRESS_PREFIX):
        sender = sender.removeprefix(ADDRESS_PREFIX)
    ids = await views.replayable_messages(
        principal.agent_id,
        _instant(wanted.since),
        _instant(wanted.until),
        sender,
        wanted.session,
        wanted.status,
        limit=MAX_REPLAY_MESSAGES + 1,
    )
    if len(ids) > MAX_REPLAY_MESSAGES:
        raise InvalidRequest(
            f"the filter matches more than {MAX_REPLAY_MESSAGES} messages: narrow it"
        )
    return ids


def _instant(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text).astimezone(UTC)


async def _visible(principal: Principal, replay_id: str) -> Replay:
    """The replay if the caller may see it: the agent that started it, or its account.

    Raises:
        NotFound: no such replay, or another's (the same answer: ids are not revealed).
    """
    if not replay_id.startswith("rpl_"):
        raise NotFound("replay")
    replay = await carrier().aggregate(Replay, aggregate_id(replay_id))
    if not isinstance(replay, Replay) or replay.account_id != principal.account_id:
        raise NotFound("replay")
    if principal.kind == "agent" and replay.agent_id != principal.agent_id:
        raise NotFound("replay")
    return replay
