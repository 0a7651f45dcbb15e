"""The carrier's streams, read as Server-Sent Events (``ServerSentEvents``,
``decoded``), and a session's stream (``GET /api/sessions/:id/stream``) as typed events.

A session's stream sends ``message`` for the opening and each turn,
``status`` for each change of the session's status, and comment lines as heartbeats.
Each event's ``id`` is its place in the session's history, so a follower that lost
its connection resumes with ``Last-Event-ID`` and misses nothing.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator
from datetime import datetime
from typing import Any, TypeVar

import attrs

from atp.client._results import MessageStatus

__all__ = [
    "FINAL_SESSION_STATUSES",
    "ServerSentEvents",
    "SessionEvent",
    "adecoded",
    "aread_events",
    "decoded",
    "read_events",
]

T = TypeVar("T")

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


class ServerSentEvents:
    """Server-Sent Events, fed a line at a time: each event's fields once it is complete
    (``id``, ``event``, ``data``; a multi-line ``data`` joined with newlines). Comment
    lines, the streams' heartbeats, are skipped."""

    def __init__(self) -> None:
        self._fields: dict[str, str] = {}

    def feed(self, line: str) -> dict[str, str] | None:
        """The fields of the event that ``line`` completes, if any."""
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
        return fields or None


def decoded(lines: Iterable[str], decode: Callable[[dict[str, str]], T | None]) -> Iterator[T]:
    """What ``decode`` makes of each event in a stream's text lines (None: skipped)."""
    parser = ServerSentEvents()
    for line in lines:
        fields = parser.feed(line)
        if fields is not None and (item := decode(fields)) is not None:
            yield item


async def adecoded(
    lines: AsyncIterable[str], decode: Callable[[dict[str, str]], T | None]
) -> AsyncIterator[T]:
    """``decoded``, as the lines come."""
    parser = ServerSentEvents()
    async for line in lines:
        fields = parser.feed(line)
        if fields is not None and (item := decode(fields)) is not None:
            yield item


def _session_event(fields: dict[str, str]) -> SessionEvent | None:
    """A session's event (unknown kinds: none)."""
    kind, data, event_id = fields.get("event"), fields.get("data"), fields.get("id")
    if kind in ("message", "status") and data is not None and event_id is not None:
        return SessionEvent.of(int(event_id), kind, json.loads(data))
    return None


def read_events(lines: Iterable[str]) -> Iterator[SessionEvent]:
    """The session events in the stream's text lines."""
    return decoded(lines, _session_event)


def aread_events(lines: AsyncIterable[str]) -> AsyncIterator[SessionEvent]:
    """``read_events``, as the lines come."""
    return adecoded(lines, _session_event)
