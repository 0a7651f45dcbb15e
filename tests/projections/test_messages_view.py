"""MessagesView folds pages in memory; what its cache lacks, ``prepare`` loads first."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from atp.domain import Message
from atp.projections import MessagesView, Statements, _messages

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def sent_message() -> Message:
    return sent_message_with_id("msg_test")


def sent_message_with_id(message_id: str) -> Message:
    return Message.create(
        message_id,
        sender_agent_id="agt_a",
        sender_account_id="acct_a",
        recipient_agent_id="agt_b",
        recipient_account_id="acct_a",
        trust="trusted",
        payload={"messageId": "m1", "role": "ROLE_USER", "parts": [{"text": "hi"}]},
        at=NOW,
        expires_at=NOW + timedelta(days=7),
    )


def history() -> list[Any]:
    """Sent (v1), DeliveryLeased (v2), AckRecorded (v3)."""
    message = sent_message()
    message.lease("dlv_1", 60, NOW)
    message.ack("ack_1", "dlv_1", "completed", None, NOW)
    return list(message.collect_events())


class Loader:
    """Serves the message at the asked version, folded from ``events``; notes each ask."""

    def __init__(self, events: list[Any]) -> None:
        self.events = events
        self.asked: list[list[tuple[UUID, int]]] = []

    async def __call__(self, wanted: Sequence[tuple[UUID, int]]) -> dict[UUID, Message]:
        self.asked.append(list(wanted))
        loaded: dict[UUID, Message] = {}
        for aggregate_id, version in wanted:
            message = None
            for event in self.events[:version]:
                message = event.mutate(message)
            assert isinstance(message, Message)
            loaded[aggregate_id] = message
        return loaded


async def fold(view: MessagesView, page: list[tuple[int, Any]]) -> list[tuple[str, Any]]:
    await view.prepare(page)
    out = Statements()
    for position, event in page:
        view.apply(out, position, event)
    view.flush(out)
    return out.statements


def message_row(statements: list[tuple[str, Any]]) -> dict[str, Any]:
    _, params = next(s for s in statements if s[0].startswith("INSERT INTO atp_messages"))
    document: dict[str, Any] = json.loads(params[10])  # the status document
    return document


async def test_a_page_that_starts_with_the_send_loads_nothing() -> None:
    events = history()
    loader = Loader(events)
    statements = await fold(MessagesView(loader), list(enumerate(events, 1)))
    assert loader.asked == []
    assert message_row(statements)["ack_status"] == "completed"


async def test_a_message_missing_from_the_cache_is_loaded_once_at_its_first_version_here() -> None:
    events = history()
    loader = Loader(events)
    view = MessagesView(loader)  # a fresh view: after a restart, the cache is empty
    statements = await fold(view, [(2, events[1]), (3, events[2])])
    assert loader.asked == [[(events[0].originator_id, 2)]]
    document = message_row(statements)
    assert document["carrier_status"] == "delivered"
    assert document["ack_status"] == "completed"


async def test_a_message_the_cache_holds_at_the_version_before_is_not_loaded() -> None:
    events = history()
    loader = Loader(events)
    view = MessagesView(loader)
    await fold(view, [(1, events[0])])
    statements = await fold(view, [(2, events[1])])
    assert loader.asked == []
    assert message_row(statements)["carrier_status"] == "delivered"


async def test_a_message_that_ended_leaves_the_cache() -> None:
    message = sent_message()
    message.lease("dlv_1", 60, NOW)
    message.ack("ack_1", "dlv_1", "completed", None, NOW)
    message.start_replay("rpl_1", "inbox", NOW)  # v4: a replay, long after the end
    events = list(message.collect_events())
    loader = Loader(events)
    view = MessagesView(loader)
    await fold(view, list(enumerate(events[:3], 1)))
    await fold(view, [(4, events[3])])
    assert loader.asked == [[(events[0].originator_id, 4)]]


async def test_the_oldest_messages_leave_the_cache_beyond_its_bound(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_messages, "_CACHE_MESSAGES", 2)
    histories = []
    for n in range(3):
        message = sent_message_with_id(f"msg_{n}")
        message.lease("dlv_1", 60, NOW)
        histories.append(list(message.collect_events()))
    loader = Loader([event for events in histories for event in events[:1]])
    view = MessagesView(loader)
    await fold(view, [(n, events[0]) for n, events in enumerate(histories, 1)])
    for n in (1, 2, 0):  # msg_0, the oldest, was let go
        loader.events = histories[n]
        await fold(view, [(10 + n, histories[n][1])])
    assert loader.asked == [[(histories[0][0].originator_id, 2)]]


async def test_documents_beyond_the_byte_bound_leave_the_cache(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    events = history()
    monkeypatch.setattr(_messages, "_CACHE_BYTES", 100)  # less than one document
    loader = Loader(events)
    view = MessagesView(loader)
    await fold(view, [(1, events[0])])
    await fold(view, [(2, events[1])])
    assert loader.asked == [[(events[0].originator_id, 2)]]
