"""A session stream's Server-Sent Events, read as typed events."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from atp.client import FINAL_SESSION_STATUSES, MessageStatus, SessionEvent
from atp.client._events import read_events


def message_status(message_id: str = "msg_1", text: str = "hello") -> dict[str, Any]:
    return {
        "message": {
            "id": message_id, "from": "atp://agent/agt_A", "to": "atp://agent/agt_B",
            "trust": "trusted", "payload": {"parts": [{"text": text}]},
            "created_at": "2026-05-27T12:00:00.000000Z",
            "expires_at": "2026-06-03T12:00:00.000000Z",
            "session_id": "ses_1", "session_sequence": 1,
        },
        "carrier_status": "queued", "ack_status": None, "terminal_at": None, "deliveries": [],
    }  # fmt: skip


def frame(event_id: int, name: str, data: dict[str, Any]) -> list[str]:
    """One event as the server writes it, split into lines."""
    return [f"id: {event_id}", f"event: {name}", f"data: {json.dumps(data)}", ""]


def test_a_message_and_a_status_event() -> None:
    lines = [
        *frame(1, "message", message_status()),
        *frame(2, "status", {"status": "open", "at": "2026-05-27T12:00:05.000000Z"}),
    ]
    first, second = read_events(lines)
    assert first == SessionEvent(1, "message", message=MessageStatus.of(message_status()))
    assert first.message is not None and first.message.message.id == "msg_1"
    assert first.status is None and not first.is_final
    assert (second.id, second.kind, second.status) == (2, "status", "open")
    assert second.at == datetime(2026, 5, 27, 12, 0, 5, tzinfo=UTC)
    assert second.message is None


def test_heartbeat_comments_are_skipped() -> None:
    lines = [": heartbeat", "", ":", "", *frame(7, "status", {"status": "closed", "at": None})]
    events = list(read_events(lines))
    assert [(e.id, e.status, e.at) for e in events] == [(7, "closed", None)]


def test_a_comment_inside_an_event_does_not_end_it() -> None:
    lines = ["id: 3", ": keep-alive", "event: status", 'data: {"status":"open"}', ""]
    assert [(e.id, e.status) for e in read_events(lines)] == [(3, "open")]


def test_multi_line_data_is_joined_with_newlines() -> None:
    body = json.dumps(message_status(text="line one"), indent=1).splitlines()
    assert len(body) > 2
    lines = ["id: 4", "event: message", *(f"data: {part}" for part in body), ""]
    [event] = read_events(lines)
    assert event.message == MessageStatus.of(message_status(text="line one"))


def test_data_without_a_space_after_the_colon() -> None:
    lines = ["id:5", "event:status", 'data:{"status":"rejected"}', ""]
    [event] = read_events(lines)
    assert (event.id, event.status) == (5, "rejected")


def test_unknown_event_names_are_skipped() -> None:
    lines = [
        *frame(1, "ping", {"x": 1}),
        *frame(2, "status", {"status": "open"}),
        *frame(3, "mystery", {"status": "closed"}),
    ]
    assert [(e.id, e.status) for e in read_events(lines)] == [(2, "open")]


def test_events_without_an_id_or_data_are_skipped() -> None:
    lines = [
        "event: status", 'data: {"status":"open"}', "",
        "id: 9", "event: status", "",
        *frame(10, "status", {"status": "failed"}),
    ]  # fmt: skip
    assert [(e.id, e.status) for e in read_events(lines)] == [(10, "failed")]


def test_an_unfinished_event_at_the_end_is_not_yielded() -> None:
    lines = [*frame(1, "status", {"status": "open"}), "id: 2", "event: status"]
    assert [e.id for e in read_events(lines)] == [1]


def test_events_are_read_lazily() -> None:
    def stream() -> Any:
        yield from frame(1, "status", {"status": "open"})
        raise AssertionError("read past the first event")

    assert next(read_events(stream())).id == 1


@pytest.mark.parametrize(
    ("status", "final"),
    [("rejected", True), ("failed", True), ("closed", True), ("open", False),
     ("requested", False)],
)  # fmt: skip
def test_is_final(status: str, final: bool) -> None:
    assert SessionEvent(1, "status", status=status).is_final is final


def test_the_final_statuses() -> None:
    assert frozenset({"rejected", "failed", "closed"}) == FINAL_SESSION_STATUSES
