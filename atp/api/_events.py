"""``GET /api/events``, ``/api/events/stream`` and ``/api/messages/:id/history``: the
audit records a caller may see.

An agent sees its own agent, the messages it sent or received and its sessions; an
account key sees everything of its account's agents. Each event is ``{"index",
"record", "leaf_hash"}``: the record whose RFC 8785 form hashes, with 0x00 before it, to
the leaf hash, and the index its inclusion proof asks for (docs/audit.md). The cursor
is the last index seen, as a string; the stream's ``id:`` is the same cursor, so
``Last-Event-ID`` resumes with nothing lost or repeated.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import trio
from quart import Blueprint, Response, request

from atp.actors import Principal
from atp.api._requests import authenticate, carrier, event_stream, read_params, whole_number
from atp.audit import EventFilter, StoredRecord, Viewer, history
from atp.errors import InvalidRequest, NotFound, StoreUnavailable

__all__ = ["HEARTBEAT_SECONDS", "blueprint", "viewer_of"]

blueprint = Blueprint("events", __name__)

HEARTBEAT_SECONDS = 15.0
_MAX_INDEX = 2**63 - 1
_STREAM_PAGE = 500
_FILTERS = ("type", "message", "session", "agent")
_HISTORY_MAX = 10_000  # records of one message (a webhook retried for days has dozens)


def viewer_of(principal: Principal) -> Viewer:
    return Viewer(principal.account_id, principal.agent_id)


def _event_document(record: StoredRecord) -> dict[str, Any]:
    return {
        "index": record.index,
        "record": json.loads(record.record),
        "leaf_hash": base64.b64encode(record.leaf_hash).decode(),
    }


def _cursor(value: object) -> int:
    """The index to continue after; -1 (from the start) when none is given."""
    if value is None or value == "":
        return -1
    return whole_number(value, 0, _MAX_INDEX)


def _filters(params: dict[str, Any]) -> EventFilter:
    found: dict[str, str] = {}
    for name in _FILTERS:
        value = params.get(name)
        if value is None:
            continue
        if not isinstance(value, str) or not value.strip():
            raise InvalidRequest(f"{name} must be a non-empty string")
        found[name] = value.strip()
    return EventFilter(**found)


@blueprint.get("/api/events")
async def events() -> dict[str, Any]:
    principal = await authenticate("account", "agent", "auditor")
    params = await read_params()
    after = _cursor(params.get("after"))
    limit = whole_number(params.get("limit", 100), 1, 1000)
    filters = _filters(params)
    audit = carrier().audit
    await audit.wait_current()  # read-your-writes: what the caller just did is there
    page = await audit.events(viewer_of(principal), after, limit, filters)
    return {
        "events": [_event_document(r) for r in page],
        "next": str(page[-1].index) if len(page) == limit else None,
    }


@blueprint.get("/api/events/stream")
async def stream() -> Response:
    principal = await authenticate("account", "agent", "auditor")
    params = await read_params()
    resume = request.headers.get("Last-Event-ID")
    after = _cursor(resume.strip() if resume is not None else params.get("after"))
    filters = _filters(params)
    viewer = viewer_of(principal)
    audit = carrier().audit
    await audit.wait_current()

    async def follow() -> AsyncIterator[bytes]:
        cursor = after
        try:
            while True:
                size = audit.size  # before reading: no page slips by unseen
                page = await audit.events(viewer, cursor, _STREAM_PAGE, filters)
                for record in page:
                    cursor = record.index
                    data = json.dumps(_event_document(record), separators=(",", ":"))
                    yield f"id: {cursor}\nevent: record\ndata: {data}\n\n".encode()
                if len(page) == _STREAM_PAGE:
                    continue
                with trio.move_on_after(HEARTBEAT_SECONDS) as idle:
                    await audit.wait_grown(size)
                if idle.cancelled_caught:
                    yield b": heartbeat\n\n"
        except StoreUnavailable:
            return  # the client resumes with Last-Event-ID once the store is back

    return event_stream(follow())


@blueprint.get("/api/messages/<message_id>/history")
async def message_history(message_id: str) -> dict[str, Any]:
    """Every record of the message, in order, each with a line a person can read."""
    principal = await authenticate("account", "agent", "auditor")
    audit = carrier().audit
    await audit.wait_current()
    records = await audit.events(
        viewer_of(principal), -1, _HISTORY_MAX, EventFilter(message=message_id)
    )
    if not records:
        raise NotFound(f"message {message_id} not found")
    documents = [_event_document(r) for r in records]
    lines = history([d["record"] for d in documents])
    return {
        "message_id": message_id,
        "history": [{**d, "description": line} for d, line in zip(documents, lines, strict=True)],
    }
