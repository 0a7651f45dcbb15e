"""A session's stream (``GET /api/sessions/:id/stream``), read as typed events.

The server sends Server-Sent Events: ``message`` for the opening and each turn,
``status`` for each change of the session's status, and comment lines as heartbeats.
Each event's ``id`` is its place in the session's history, so a follower that lost
its connection resumes with ``Last-Event-ID`` and misses nothing.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from datetime import datetime
from typing import Any

import attrs

from atp.client._results import MessageStatus

__all__ = [
    "FINAL_SESSION_STATUSES",
    "EventDecoder",
    "SessionEvent",
    "aread_events",
    "read_events",
]

FINAL_SESSION_STATUSES = frozenset({"rejected", "failed", "closed"})


@attrs.frozen
class SessionEvent:
    """One event of a session: a message (opening or turn) or a new status."""

    id: int
    kind: str  # "message" or "status"
    message: MessageStatus | None = None
    status: str | None = None
    at: datetime | None = None

    @property
    def is_final(self) -> bool:
        """Whether the session ended with this event (the stream closes after it)."""
        return self.status in FINAL_SESSION_STATUSES

    @classmethod
    def of(cls, event_id: int, kind: str, data: dict[str, Any]) -> SessionEvent:
        if kind == "message":
            return cls(event_id, kind, message=MessageStatus.of(data))
        at = data.get("at")
        return cls(event_id, kind, status=data["status"], at=at and datetime.fromisoformat(at))


class EventDecoder:
    """Turns the stream's text lines, fed one at a time, into events."""

    def __init__(self) -> None:
        self._fields: dict[str, str] = {}

    def feed(self, line: str) -> SessionEvent | None:
        """The event that ``line`` completes, if any (heartbeats and unknown kinds: none)."""
        if line.startswith(":"):
            return None
        if line:
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "data" and name in self._fields:  # a multi-line data field
                value = f"{self._fields[name]}\n{value}"
            self._fields[name] = value
            return None
        fields, self._fields = self._fields, {}
        kind, data, event_id = fields.get("event"), fields.get("data"), fields.get("id")
        if kind in ("message", "status") and data is not None and event_id is not None:
            return SessionEvent.of(int(event_id), kind, json.loads(data))
        return None


async def aread_events(lines: AsyncIterable[str]) -> AsyncIterator[SessionEvent]:
    """The events in the stream's text lines, as they come."""
    decoder = EventDecoder()
    async for line in lines:
        event = decoder.feed(line)
        if event is not None:
            yield event


def read_events(lines: Iterable[str]) -> Iterator[SessionEvent]:
    """The events in the stream's text lines."""
    decoder = EventDecoder()
    for line in lines:
        event = decoder.feed(line)
        if event is not None:
            yield event
