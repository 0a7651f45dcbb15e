"""``GET /api/sessions/:id/stream``: a session's history and then its life, as Server-Sent Events.

Each event of the Session aggregate becomes one SSE event whose ``id`` is that
event's version in the ledger: ``message`` for the opening and every turn (the
message-status object, as ``GET /api/sessions/:id`` shows it to this viewer), and
``status`` for a change of the session's status. The version is the cursor: a client
that reconnects with ``Last-Event-ID: <v>`` gets exactly the events after ``v``, also
after a restart, because they are read back from the ledger. Comments keep idle
connections alive; the stream ends after the session's final status.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import trio
from eventsourcing.domain import DomainEventProtocol
from quart import Blueprint, Response, request

from atp.api._requests import authenticate, carrier, event_stream, whole_number
from atp.api._sessions import visible
from atp.domain import STATUS_AFTER, Session, aggregate_id
from atp.errors import StoreUnavailable
from atp.projections import Queries
from atp.wire import iso, viewer_document

__all__ = ["HEARTBEAT_SECONDS", "MAX_VERSION", "blueprint"]

blueprint = Blueprint("session_stream", __name__)

HEARTBEAT_SECONDS = 15.0
MAX_VERSION = 2**63 - 1
_FINAL = frozenset(STATUS_AFTER.values()) - {"open"}  # rejected, failed, closed


@blueprint.get("/api/sessions/<session_id>/stream")
async def stream(session_id: str) -> Response:
    principal = await authenticate("agent")
    agent_id = principal.agent_id
    assert agent_id is not None
    after = _last_event_id(request.headers.get("Last-Event-ID"))
    rt = carrier()
    views = await rt.views()
    visible(await views.session(session_id), agent_id)

    async def events() -> AsyncIterator[bytes]:
        try:
            async for chunk in follow():
                yield chunk
        except StoreUnavailable:
            # The store went away mid-stream: end it (the outage is logged once, by the
            # store's record). A client resumes with Last-Event-ID once it is back.
            return

    async def follow() -> AsyncIterator[bytes]:
        cursor = after
        ledger_id = aggregate_id(session_id)
        while True:
            signal = rt.arrivals.event(session_id)  # before reading: no commit slips by
            news = await rt.history_after(ledger_id, cursor)
            if news:
                current = await rt.views()  # their turns' messages are in the views
                if rt.views_stuck:
                    news = []  # unless stuck before them: hold them (heartbeats go on)
            for event in news:
                cursor = event.originator_version
                name, data = await _render(current, event, agent_id)
                if name is not None:
                    yield _sse(cursor, name, data)
                if data.get("status") in _FINAL:
                    return
            if rt.arrivals.closed:
                return  # the carrier is stopping; the client resumes with Last-Event-ID
            with trio.move_on_after(HEARTBEAT_SECONDS) as idle:
                await signal.wait()  # this session's next commit, not every commit
            if idle.cancelled_caught:
                yield b": heartbeat\n\n"

    return event_stream(events())


async def _render(
    queries: Queries, event: DomainEventProtocol[Any], viewer: str
) -> tuple[str | None, dict[str, Any]]:
    """The SSE event name and data for one session event (None: nothing to show).

    It runs outside the request's context (the body streams after the handler
    returned), so it is handed what it reads.
    """
    if isinstance(event, Session.Requested | Session.TurnAppended):
        message_id = (
            event.opening_message_id if isinstance(event, Session.Requested) else event.message_id
        )
        row = await queries.message(message_id)
        if row is None:
            return None, {}
        recipient_side = row.recipient_agent_id == viewer
        return "message", viewer_document(row.document, recipient_side=recipient_side)
    status = STATUS_AFTER.get(type(event))
    if status is None:
        return None, {}
    return "status", {"status": status, "at": iso(getattr(event, "at", None))}


def _sse(event_id: int, name: str, data: dict[str, Any]) -> bytes:
    body = json.dumps(data, separators=(",", ":"))
    return f"id: {event_id}\nevent: {name}\ndata: {body}\n\n".encode()


def _last_event_id(value: str | None) -> int:
    """The version to resume after: 0 (from the start) without the header.

    Raises:
        InvalidRequest: not a whole number of ASCII digits, or 2**63 or more.
    """
    if value is None or not value.strip():
        return 0
    # A version is a signed 64-bit integer in both stores: a larger one overflows the query.
    return whole_number(value.strip(), 0, MAX_VERSION)
