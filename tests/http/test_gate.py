"""The connection gate's bookkeeping: places taken and given back, and a log tally that
says one line per interval however many events there are."""

from __future__ import annotations

import trio
from trio.testing import MockClock

from atp.http import ConnectionGate, Tally


def test_the_gate_admits_up_to_its_limit_and_again_after_a_release() -> None:
    gate = ConnectionGate(limit=2)
    assert [gate.admit() for _ in range(3)] == [True, True, False]
    gate.release()
    assert (gate.admit(), gate.admit()) == (True, False)
    assert gate.open == 2


async def test_a_tally_is_due_at_the_first_event_then_once_per_interval_with_its_count(
    clock: MockClock,
) -> None:
    tally = Tally(interval=10)
    assert tally.note() == 1  # the first event is told at once
    assert [tally.note() for _ in range(1000)] == [None] * 1000
    await trio.sleep(tally.interval)
    assert tally.note() == 1001  # then one line with everything since the last
    assert tally.note() is None
    assert tally.total == 1003
