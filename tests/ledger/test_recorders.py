"""The ledger's own recorders (one statement a commit) against the stored history."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from uuid import uuid4

import psycopg
import pytest
import trio
from eventsourcing.persistence import IntegrityError, OperationalError, StoredEvent

from atp.ledger import Bridge, Ledger
from atp.settings import Settings


def stored(n: int, version: int = 1) -> list[StoredEvent]:
    # States of different sizes and every byte value: the binary path must not mangle them.
    return [
        StoredEvent(uuid4(), version, f"tests:Event{i}", bytes(range(256)) * (i % 3) + b"\x00'\\")
        for i in range(n)
    ]


@pytest.fixture
def ledger(settings: Settings) -> Iterator[Ledger]:
    ledger = Ledger(settings, Bridge(2))
    yield ledger
    ledger.close()


@pytest.mark.parametrize("count", [1, 2, 300])
def test_a_commit_is_stored_in_order_with_its_notification_ids(ledger: Ledger, count: int) -> None:
    recorder = ledger.app.recorder
    first = stored(count)
    ids = recorder.insert_events(first)
    assert ids is not None and len(ids) == count
    assert list(ids) == sorted(ids) and len(set(ids)) == count
    back = recorder.select_notifications(ids[0], count + 5)
    assert [n.id for n in back] == list(ids)
    assert [(n.originator_id, n.originator_version, n.topic, n.state) for n in back] == [
        (e.originator_id, e.originator_version, e.topic, e.state) for e in first
    ]
    # The next commit continues the log.
    assert recorder.insert_events(stored(1))[0] > ids[-1]


def test_a_taken_version_stores_nothing_of_its_commit(ledger: Ledger) -> None:
    recorder = ledger.app.recorder
    [taken] = stored(1)
    recorder.insert_events([taken])
    top = recorder.max_notification_id()
    with pytest.raises(IntegrityError):
        recorder.insert_events([*stored(3), taken])
    assert recorder.max_notification_id() == top


@pytest.mark.parametrize("store", ["postgres"], indirect=True)
async def test_a_postgres_commit_notifies_its_channel(ledger: Ledger, postgres_url: str) -> None:
    """eventsourcing's subscriptions LISTEN on the events table's channel."""
    recorder = ledger.app.recorder
    channel = recorder.channel_name
    base = postgres_url.split("?")[0]
    with psycopg.connect(base, autocommit=True) as listener:
        listener.execute(f'LISTEN "{channel}"')
        await trio.to_thread.run_sync(recorder.insert_events, stored(5))
        heard = list(listener.notifies(timeout=5, stop_after=1))
    assert [n.channel for n in heard] == [channel]


class AnswerLost:
    """The PostgreSQL insert commits, then its connection drops before the answer
    arrives: the one failure a client cannot tell from a commit that never happened.
    (A connection cannot be cut between commit and answer on purpose, so the fault is
    injected around the real insert.)"""

    def __init__(
        self,
        insert: Callable[[Sequence[StoredEvent]], list[int]],
        first: Callable[[Sequence[StoredEvent]], object] | None = None,
    ) -> None:
        self.insert = insert
        self.first = first or insert  # what the lost first call did on the server
        self.calls = 0

    def __call__(self, events: Sequence[StoredEvent]) -> list[int]:
        self.calls += 1
        if self.calls > 1:
            return self.insert(events)
        self.first(events)
        raise OperationalError("server closed the connection unexpectedly")


@pytest.mark.parametrize("store", ["postgres"], indirect=True)
def test_a_lost_answer_is_retried_without_storing_twice_or_failing(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorder = ledger.app.recorder
    top = recorder.max_notification_id() or 0
    monkeypatch.setattr(recorder, "_insert", AnswerLost(recorder._insert))
    events = stored(3)
    ids = recorder.insert_events(events)
    assert ids is not None and len(ids) == 3
    back = recorder.select_notifications(top + 1, 10)
    assert [n.id for n in back] == list(ids)  # stored once, and these are their ids
    assert [n.state for n in back] == [e.state for e in events]


@pytest.mark.parametrize("store", ["postgres"], indirect=True)
def test_a_lost_answer_whose_versions_another_commit_took_is_a_conflict(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorder = ledger.app.recorder
    [event] = stored(1)
    theirs = StoredEvent(event.originator_id, 1, event.topic, b"another writer's state")

    insert = recorder._insert
    # Meanwhile the version is taken, with another state.
    monkeypatch.setattr(recorder, "_insert", AnswerLost(insert, lambda _: insert([theirs])))
    with pytest.raises(IntegrityError):
        recorder.insert_events([event])
