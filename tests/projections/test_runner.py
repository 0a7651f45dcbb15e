"""The ProjectionRunner through fakes: a ledger of plain events in memory, a views'
store that keeps the tracking row and the statements (and fails when told), and a
view that writes one statement per event. What a real store does with the statements
is test_view_store's and the system tests'; here: pages, tracking moved only from
where the store has it, a failing page applied one event at a time, the stuck event
named, and readers woken."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any
from uuid import UUID, uuid4

import attrs
import pytest
import trio
import trio.testing

from atp.errors import ProjectionStuck
from atp.ledger import Notification
from atp.projections import ProjectionRunner, View


@attrs.frozen
class Happened:
    """An event: all the runner reads of one is its type and originator."""

    originator_id: UUID
    poison: bool = False


@attrs.define
class Store:
    """The views' store: the tracking row, the committed statements, and a failure to
    raise on the next write (``fail``) or on every write of a poisoned event."""

    position: int = 0
    written: list[list[Any]] = attrs.Factory(list)
    fail: Exception | None = None
    away: bool = False

    def query(self, sql: str, params: Sequence[Any]) -> list[tuple[int]]:
        return [(self.position,)]

    def write(self, statements: list[tuple[str, Sequence[Any]]]) -> None:
        if self.fail is not None:
            failure, self.fail = self.fail, None
            raise failure
        *rows, _, (_, (previous, top, _)) = statements
        if any(params[1] for _, params in rows):
            raise ValueError("the store refuses this row")
        assert previous == self.position, "tracking moves only from where the store has it"
        self.position = top
        self.written.append([params[0] for _, params in rows])


@attrs.define
class Bridge:
    store: Store

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        await trio.lowlevel.checkpoint()
        return fn(*args)

    read = run


@attrs.define
class Ledger:
    events: list[Happened]
    bridge: Bridge

    @property
    def last_committed(self) -> int:
        return len(self.events)

    def recent(self, start: int, stop: int, kinds: frozenset[type]) -> None:
        return None  # nothing from memory: every page is read

    def notifications_sync(
        self, start: int, limit: int, *, stop: int, topics: Sequence[str]
    ) -> list[Notification]:
        positions = range(start, min(stop, start + limit - 1) + 1)
        return [(p, self.events[p - 1]) for p in positions]  # type: ignore[misc]

    def forget_through(self, follower: str, position: int) -> None:
        pass


class Counted(View):
    name = "counted"
    tables = ()
    aggregates = ()

    def __init__(self) -> None:
        self.committed_pages = 0

    def apply(self, out: Any, position: int, event: Any) -> None:
        out.execute("INSERT", (position, event.poison))

    def written(self) -> None:
        self.committed_pages += 1


@attrs.frozen
class Fixture:
    runner: ProjectionRunner
    ledger: Ledger
    store: Store
    view: Counted


def fixture(events: int, page: int = 3, poison_at: int | None = None) -> Fixture:
    store = Store()
    happened = [Happened(uuid4(), poison=i == poison_at) for i in range(1, events + 1)]
    ledger = Ledger(happened, Bridge(store))
    view = Counted()
    runner = ProjectionRunner(ledger, store, [view], page)  # type: ignore[arg-type]
    return Fixture(runner, ledger, store, view)


async def test_catch_up_writes_each_page_with_its_tracking_position() -> None:
    fx = fixture(events=7, page=3)
    await fx.runner.catch_up()
    assert fx.store.written == [[1, 2, 3], [4, 5, 6], [7]]
    assert fx.store.position == fx.runner.position == 7
    assert fx.view.committed_pages == 3
    assert fx.runner.statistics().lag == 0


async def test_a_page_that_fails_once_is_applied_again_event_by_event() -> None:
    fx = fixture(events=3, page=3)
    fx.store.fail = RuntimeError("a write that failed once")
    await fx.runner.catch_up()
    assert fx.store.written == [[1], [2], [3], []]  # the last moves tracking to the page's end
    assert fx.runner.statistics().failed_pages == 1


async def test_the_event_the_views_refuse_is_named_and_those_before_it_stay() -> None:
    fx = fixture(events=5, page=5, poison_at=4)
    with pytest.raises(ProjectionStuck) as stuck:
        await fx.runner.catch_up()
    assert stuck.value.position == 4
    assert str(fx.ledger.events[3].originator_id) in str(stuck.value)
    assert fx.store.position == fx.runner.position == 3


async def test_a_store_that_has_tracking_ahead_is_followed_not_overwritten() -> None:
    fx = fixture(events=6, page=6)
    fx.store.position = 4  # the page committed; only the answer was lost
    fx.store.fail = RuntimeError("the answer was lost")
    await fx.runner.catch_up()
    assert fx.store.written == [[5, 6]]
    assert fx.runner.position == 6


async def test_readers_wake_at_their_position_or_when_the_views_are_stuck(
    nursery: trio.Nursery,
) -> None:
    fx = fixture(events=4, page=2, poison_at=4)
    done: list[int] = []

    async def reader(position: int) -> None:
        await fx.runner.wait_projected(position)
        done.append(position)

    nursery.start_soon(reader, 2)
    nursery.start_soon(reader, 4)
    await trio.testing.wait_all_tasks_blocked()
    assert done == []
    await nursery.start(fx.runner.run)  # catches up to the stuck event, then retries
    await trio.testing.wait_all_tasks_blocked()
    assert fx.runner.stuck is not None and fx.runner.stuck.position == 4
    assert done == [2, 4]  # 4 is answered from the views as they stand: 1 to 3
    assert fx.runner.position == 3
