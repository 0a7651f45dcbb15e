"""The store's absence: told apart from bad data, probed, refused at once, waited out.

The bridge runs real worker threads; the calls in them fail as drivers do. Time is
Trio's mock clock (the watch backs off by tenths of seconds to a second).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from typing import Any

import psycopg
import pytest
import trio
from eventsourcing.persistence import IntegrityError, OperationalError

from atp.errors import StoreUnavailable
from atp.ledger import Bridge, StoreAvailability, StoreState, StoreWatch, is_outage


def _wrapped(cause: Exception) -> OperationalError:
    """eventsourcing's translation of a driver error (raised ``from`` it)."""
    try:
        raise OperationalError(str(cause)) from cause
    except OperationalError as exc:
        return exc


@pytest.mark.parametrize(
    ("error", "outage"),
    [
        (psycopg.OperationalError("server closed the connection unexpectedly"), True),
        (psycopg.InterfaceError("the connection is closed"), True),
        (_wrapped(psycopg.OperationalError("connection refused")), True),
        (sqlite3.OperationalError("database is locked"), True),
        (_wrapped(sqlite3.OperationalError("disk I/O error")), True),
        (psycopg.DataError("PostgreSQL text fields cannot contain NUL (0x00) bytes"), False),
        (psycopg.errors.UndefinedTable("relation does not exist"), False),
        (sqlite3.OperationalError("no such table: atp_tracking"), False),
        (_wrapped(sqlite3.OperationalError("no such table: atp_events")), False),
        (IntegrityError("duplicate key"), False),
        (ValueError("a bug"), False),
    ],
)
def test_an_outage_is_told_apart_from_bad_data_and_bugs(error: Exception, outage: bool) -> None:
    assert is_outage(error) is outage


class Store:
    """A store whose calls fail while ``down``; counts what reached it."""

    def __init__(self) -> None:
        self.down = False
        self.calls = 0

    def call(self) -> str:
        self.calls += 1
        if self.down:
            raise psycopg.OperationalError("connection refused")
        return "answer"

    async def probe(self) -> None:
        self.call()


async def watched(nursery: trio.Nursery, store: Store) -> Bridge:
    bridge = Bridge(2)
    await nursery.start(StoreWatch(bridge.store, store.probe).run)
    return bridge


async def test_calls_are_refused_at_once_while_the_store_is_away_and_pass_once_it_is_back(
    clock: Any, nursery: trio.Nursery, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="atp.store")
    store = Store()
    bridge = await watched(nursery, store)
    assert await bridge.run(store.call) == "answer"

    store.down = True
    with pytest.raises(StoreUnavailable) as failed:
        await bridge.run(store.call)
    assert isinstance(failed.value.__cause__, psycopg.OperationalError)
    await bridge.store.wait_checked()  # the watch probes at once, and fails
    assert bridge.store.away
    calls = store.calls
    for _ in range(10):
        with pytest.raises(StoreUnavailable) as refused:
            await bridge.run(store.call)
        assert refused.value.__cause__ is None
    await trio.sleep(5)  # the watch goes on probing, a second apart at most
    assert 5 <= store.calls - calls <= 10

    store.down = False
    await bridge.store.wait_available()
    assert await bridge.run(store.call) == "answer"
    stats = bridge.store.statistics()
    assert (stats.available, stats.outages, stats.refused_calls) == (True, 1, 10)
    lines = [r.getMessage() for r in caplog.records]
    assert [line.split(" (")[0].split(" after")[0] for line in lines] == [
        "the store is away",
        "the store is back",
    ]


async def test_a_read_is_tried_again_after_a_blip_and_its_caller_never_sees_it(
    clock: Any, nursery: trio.Nursery
) -> None:
    store = Store()
    bridge = await watched(nursery, store)
    failures = [psycopg.OperationalError("server closed the connection unexpectedly")]

    def once_broken() -> str:
        if failures:
            raise failures.pop()
        return "answer"

    assert await bridge.read(once_broken) == "answer"
    assert bridge.store.state is StoreState.AVAILABLE
    assert bridge.store.statistics().outages == 0


async def test_a_call_that_is_no_outage_is_raised_as_it_is(
    clock: Any, nursery: trio.Nursery
) -> None:
    bridge = await watched(nursery, Store())

    def refuses() -> None:
        raise psycopg.DataError("PostgreSQL text fields cannot contain NUL (0x00) bytes")

    with pytest.raises(psycopg.DataError):
        await bridge.read(refuses)
    assert bridge.store.state is StoreState.AVAILABLE


async def test_a_probe_gives_up_on_a_store_that_does_not_answer(clock: Any) -> None:
    bridge = Bridge(2)
    release = threading.Event()

    def hangs() -> None:
        release.wait(30)

    with pytest.raises(StoreUnavailable, match="did not answer within 2 s"):
        await bridge.probe(hangs, within=2.0)
    release.set()


async def test_a_store_found_away_is_waited_for(clock: Any) -> None:
    availability = StoreAvailability()
    availability.found_away(OSError("refused"))
    back = trio.Event()

    async def waiter() -> None:
        await availability.wait_available()
        back.set()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(waiter)
        await trio.sleep(60)
        assert not back.is_set()
        assert availability.statistics().away_seconds == pytest.approx(60, abs=1)
        availability.found_back()
    assert back.is_set()
