"""The projection runner: follows the ledger's notification log into the views.

Each page of notifications is applied to every view and the tracking position is
written in the same transaction, so each event is projected exactly once, even
across crashes. The runner sleeps until the ledger says something committed; nothing
polls on a timer. While no reader waits for the views, it lets the commits of the
next few milliseconds join the page: each page costs a thread trip and a transaction
however small it is, and under load one page per commit was a large share of the
server's CPU. A reader that waits (``wait_projected``) ends that pause at once.

A page is folded into SQL statements on the Trio thread and written, with its tracking
position, in one worker-thread trip that is all driver calls. Folding is Python, which
holds the interpreter lock: in a worker thread it held it in 5 ms turns while a commit
or an idempotency lookup that every waiting request depended on could not start, and
the main thread sat idle. In the Trio thread it costs the same CPU without that
wait (in-process, CPU per send -5%; docs/performance.md has the paired runs).

A page this process committed moments ago is taken from the ledger's memory
(``Ledger.recent``): reading it back and decoding it cost a quarter of the page. One it
did not commit (catching up at start, after a rebuild, too far behind) is read from
the store.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs
import trio
from eventsourcing.utils import get_topic

from atp.ledger import Ledger, Notification
from atp.projections._store import ViewStore
from atp.projections._view import Statements, View, event_classes

__all__ = ["ProjectionRunner", "ProjectionStatistics"]

_TRACKING_KEY = "views"


@attrs.frozen
class ProjectionStatistics:
    """Where the views are (``position``) and where the ledger is (``head``: the last
    notification committed), events and pages applied since start."""

    position: int
    events_applied: int
    batches: int
    head: int

    @property
    def lag(self) -> int:
        """Notifications committed that the views do not show yet."""
        return max(0, self.head - self.position)


# ops/bench, SQLite, paired runs: 32 clients 43.3% -> 46.7% of the ceiling (means of
# 5 and 7 runs), 1 client p50 4.05 -> 3.45 ms; 25 ms gathered no more.
_GATHER_SECONDS = 0.010
# Events folded between checkpoints: a long catch-up must not hold the loop.
_FOLD_SLICE = 64


class ProjectionRunner:
    """Applies the ledger's events to ``views``; readers wait on :meth:`wait_projected`."""

    def __init__(
        self, ledger: Ledger, store: ViewStore, views: Sequence[View], page: int = 500
    ) -> None:
        self.ledger = ledger
        self.store = store
        self.views = tuple(views)
        self.page = page
        # Only events some view folds are read (and decoded): idempotency records, half
        # of all events, never leave the database.
        self.kinds = frozenset().union(*(event_classes(v.aggregates) for v in self.views))
        self.topics = sorted(get_topic(kind) for kind in self.kinds)
        self.position = self._read_position()
        self._advanced = trio.Event()
        self._awaited = trio.Event()  # set when a reader waits: project now
        # One applier at a time: the follower loop, a start-up catch-up and a rebuild
        # may all ask; two appliers would read and apply the same page twice.
        self._applying = trio.Lock()
        self._events_applied = 0
        self._batches = 0

    def _read_position(self) -> int:
        rows = self.store.query(
            "SELECT position FROM atp_tracking WHERE view = ?", (_TRACKING_KEY,)
        )
        return int(rows[0][0]) if rows else 0

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Catch up, then follow the ledger forever."""
        task_status.started()
        while True:
            await self.ledger.wait_committed(self.position)
            with trio.move_on_after(_GATHER_SECONDS):  # unless a reader waits
                await self._awaited.wait()
            await self.catch_up()

    async def catch_up(self) -> None:
        """Apply every notification committed so far."""
        async with self._applying:
            await self._catch_up()

    async def _catch_up(self) -> None:
        while self.position < (stop := self.ledger.last_committed):
            start = self.position + 1
            end = min(stop, start + self.page - 1)
            recent = self.ledger.recent(start, end, self.kinds)
            if recent is None:
                batch, end = await self.ledger.bridge.run(self._read, start, stop)
            else:
                batch = recent
            try:
                statements = await self._fold(batch)
                await self.ledger.bridge.run(self._write, statements, end)
            except BaseException:
                for view in self.views:  # nothing of the page is kept, in memory either
                    view.reset()
                raise
            self.position = end
            for view in self.views:
                view.written()
            self.ledger.forget_through(end)
            self._events_applied += len(batch)
            self._batches += 1
            self._advanced.set()
            self._advanced = trio.Event()
            self._awaited = trio.Event()

    def _read(self, start: int, stop: int) -> tuple[list[Notification], int]:
        """The views' events in [start, stop], a page at most, and the position they
        bring tracking to."""
        batch = self.ledger.notifications_sync(start, self.page, stop=stop, topics=self.topics)
        # A short page means everything up to ``stop`` was read, relevant or not.
        top = batch[-1][0] if len(batch) == self.page else stop
        return batch, top

    async def _fold(self, batch: list[Notification]) -> list[tuple[str, Sequence[Any]]]:
        """The statements every view makes of ``batch`` (on the Trio thread)."""
        for view in self.views:
            await view.prepare(batch)
        out = Statements()
        for index, (position, event) in enumerate(batch, 1):
            for view in self.views:
                view.apply(out, position, event)
            if index % _FOLD_SLICE == 0:
                await trio.lowlevel.checkpoint()
        for view in self.views:
            view.flush(out)
        return out.statements

    def _write(self, statements: list[tuple[str, Sequence[Any]]], top: int) -> None:
        """Run a page's statements and move tracking to ``top``, in one transaction."""
        tracking = (
            "INSERT INTO atp_tracking (view, position) VALUES (?, ?) "
            "ON CONFLICT (view) DO UPDATE SET position = excluded.position "
            "WHERE atp_tracking.position < excluded.position",
            (_TRACKING_KEY, top),
        )
        self.store.write([*statements, tracking])

    async def wait_projected(self, position: int) -> None:
        """Wait until the views reflect every event up to notification ``position``."""
        while self.position < position:
            self._awaited.set()
            await self._advanced.wait()

    async def wait_current(self) -> None:
        """Read-your-writes: wait until the views include everything committed so far."""
        await self.wait_projected(self.ledger.last_committed)

    def applying(self) -> trio.Lock:
        """The lock held while views are written (a rebuild's reset takes it too)."""
        return self._applying

    def reset(self) -> None:
        """Empty every view and the tracking row (a rebuild replays from zero)."""
        with self.store.transaction() as cur:
            for view in self.views:
                for table in view.tables:
                    cur.execute(f"DELETE FROM {table}")
            cur.execute("DELETE FROM atp_tracking WHERE view = ?", (_TRACKING_KEY,))
        for view in self.views:
            view.reset()
        self.position = 0

    def statistics(self) -> ProjectionStatistics:
        """Position and counters, for /metrics and tests."""
        return ProjectionStatistics(
            self.position, self._events_applied, self._batches, self.ledger.last_committed
        )
