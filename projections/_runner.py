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
wait (docs/performance.md, "What paid").

A page this process committed moments ago is taken from the ledger's memory
(``Ledger.recent``): reading it back and decoding it cost a quarter of the page. One it
did not commit (catching up at start, after a rebuild, too far behind) is read from
the store.

Nothing that fails here stops the carrier. While the store is away the runner waits
for it and tries again; readers waiting for the views are answered 503 meanwhile. A
page that fails for another reason is applied again one event at a time, to find the
event the views cannot apply: the events before it are applied, and the runner stays
*stuck* on it (logged with its notification id, topic and aggregate id, never its
data; ``/ready`` answers 503), trying again with a backoff of 1 s doubling to 30 s,
until it applies (the cause fixed, a store that refused it back to normal). Readers
are then served from the views as they stand before that event: stale, not blocked.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import attrs
import trio
from eventsourcing.utils import get_topic

from atp.errors import ProjectionStuck, StoreUnavailable
from atp.ledger import Backoff, Ledger, Notification
from atp.projections._store import ViewStore
from atp.projections._view import Statements, View, event_classes

__all__ = ["ProjectionRunner", "ProjectionStatistics"]

log = logging.getLogger(__name__)

_AWAY_BACKOFF = Backoff(first=0.1, cap=2.0)  # calls fail, the store not (yet) known away
_STUCK_BACKOFF = Backoff(first=1.0, cap=30.0)


@attrs.frozen
class ProjectionStatistics:
    """Where the views are (``position``) and where the ledger is (``head``: the last
    notification committed), events and pages applied since start."""

    position: int
    events_applied: int
    batches: int
    head: int
    # The notification id the views are stuck on (they cannot apply it), or None.
    stuck_at: int | None = None
    failed_pages: int = 0  # pages that failed, for any reason (each was tried again)

    @property
    def lag(self) -> int:
        """Notifications committed that the views do not show yet."""
        return max(0, self.head - self.position)


# How long a page gathers commits unless a reader waits (docs/performance.md, "What paid").
_GATHER_SECONDS = 0.010
# Events folded between checkpoints: a long catch-up must not hold the loop.
_FOLD_SLICE = 64


class ProjectionRunner:
    """Applies the ledger's events to ``views``; readers wait on :meth:`wait_projected`."""

    def __init__(
        self,
        ledger: Ledger,
        store: ViewStore,
        views: Sequence[View],
        page: int = 500,
        *,
        tracking: str = "views",
        gather: float = _GATHER_SECONDS,
    ) -> None:
        self.ledger = ledger
        self.tracking = tracking  # the key of this runner's row in atp_tracking
        self.gather = gather  # how long commits may gather into one page, unless awaited
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
        self.stuck: ProjectionStuck | None = None  # the event the views cannot apply
        self._failures = 0  # tries in a row that failed
        self._failed_pages = 0

    def _read_position(self) -> int:
        rows = self.store.query(
            "SELECT position FROM atp_tracking WHERE view = ?", (self.tracking,)
        )
        return int(rows[0][0]) if rows else 0

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Catch up (once: neither a stuck view nor an absent store stops a start), then
        follow the ledger forever, trying again after a failure."""
        retry = await self._try_catch_up()
        task_status.started()
        while True:
            if retry is None:
                await self.ledger.wait_committed(self.position)
                with trio.move_on_after(self.gather):  # unless a reader waits
                    await self._awaited.wait()
            elif (store := self.ledger.bridge.store).away:
                await store.wait_available()  # paced by the watch: go on as soon as it is back
            else:
                await trio.sleep(retry)
            retry = await self._try_catch_up()

    async def _try_catch_up(self) -> float | None:
        """Catch up; None if done, else the seconds to wait before trying again."""
        try:
            if self._failures:
                async with self._applying:
                    await self._resynced()
            await self.catch_up()
        except StoreUnavailable:
            self._failures += 1
            self._wake_readers()  # they find the store away and answer 503
            return _AWAY_BACKOFF.delay(self._failures)
        except ProjectionStuck as stuck:
            self._failures += 1
            delay = _STUCK_BACKOFF.delay(self._failures)
            if self.stuck is None or self.stuck.position != stuck.position or delay > 10:
                log.error(
                    "%s; the ledger keeps it and writes go on, but the views stop before it"
                    " (reads are stale, /ready answers 503); trying again in %.0f s",
                    stuck,
                    delay,
                )
            self.stuck = stuck
            self._wake_readers()  # they read the views as they stand
            return delay
        self._failures = 0
        return None

    async def catch_up(self) -> None:
        """Apply every notification committed so far.

        Raises:
            StoreUnavailable: the store is away; what was applied stays applied.
            ProjectionStuck: the views cannot apply an event; those before it are applied.
        """
        async with self._applying:
            await self._catch_up()
        if self.stuck is not None:
            log.warning("the views applied notification %d: no longer stuck", self.stuck.position)
            self.stuck = None

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
                await self._apply(batch, end)
            except StoreUnavailable:
                raise
            except Exception:
                if not await self._resynced():
                    await self._apply_one_by_one(batch, end)

    async def _apply(self, batch: list[Notification], end: int) -> None:
        """Fold ``batch`` and write it with tracking at ``end``, in one transaction."""
        try:
            statements = await self._fold(batch)
            await self.ledger.bridge.run(self._write, statements, self.position, end)
        except BaseException:
            self._failed_pages += 1
            for view in self.views:  # nothing of the page is kept, in memory either
                view.reset()
            raise
        self._advance(end, len(batch))

    async def _apply_one_by_one(self, batch: list[Notification], end: int) -> None:
        """A page failed, not for want of the store: apply its events one at a time, to
        apply those before the one that fails, and to name that one.

        Raises:
            ProjectionStuck: the event that fails alone.
        """
        for position, event in batch:
            try:
                await self._apply([(position, event)], position)
            except StoreUnavailable:
                raise
            except Exception as exc:
                topic = get_topic(type(event))
                reason = f"the views refuse it ({type(exc).__name__})"
                raise ProjectionStuck(position, topic, str(event.originator_id), reason) from exc
        await self._apply([], end)  # only the page as a whole failed

    async def _resynced(self) -> bool:
        """Take the store's tracking position if it is not ours; whether it was not.

        After a failed write or an outage it can be ahead (the page committed, only the
        answer was lost) or behind: views commit without waiting for the disk, so a
        crash of the database server drops their last pages, tracking included, while
        this process goes on. Either way the views go on from where the store has them.
        """
        stored = await self.ledger.bridge.read(self._read_position)
        if stored == self.position:
            return False
        if stored < self.position:
            log.warning(
                "the views' store lost notifications %d to %d (its last commits, in a crash):"
                " applying them again",
                stored + 1,
                self.position,
            )
        self.position = stored
        for view in self.views:
            view.reset()
        self._wake_readers()
        return True

    def _advance(self, position: int, events: int) -> None:
        self.position = position
        for view in self.views:
            view.written()
        self.ledger.forget_through(self.tracking, position)
        self._events_applied += events
        self._batches += 1
        self._awaited = trio.Event()
        self._wake_readers()

    def _wake_readers(self) -> None:
        self._advanced.set()
        self._advanced = trio.Event()

    def _read(self, start: int, stop: int) -> tuple[list[Notification], int]:
        """The views' events in [start, stop], a page at most, and the position they
        bring tracking to."""
        try:
            batch = self.ledger.notifications_sync(start, self.page, stop=stop, topics=self.topics)
        except ProjectionStuck as stuck:
            if stuck.position <= start:
                raise
            stop = stuck.position - 1  # the events before it can still be applied
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

    def _write(self, statements: list[tuple[str, Sequence[Any]]], previous: int, top: int) -> None:
        """Run a page's statements and move tracking from ``previous`` to ``top``, in one
        transaction, which fails unless the store's tracking is at ``previous``: no page
        lands twice, or on views that lost the pages before it."""
        self.store.write(
            [
                *statements,
                (
                    "INSERT INTO atp_tracking (view, position) VALUES (?, 0)"
                    " ON CONFLICT (view) DO NOTHING",
                    (self.tracking,),
                ),
                # Anything but ``previous`` sets NULL, which the column refuses.
                (
                    "UPDATE atp_tracking SET position = CASE WHEN position = ?"
                    " THEN CAST(? AS BIGINT) END WHERE view = ?",
                    (previous, top, self.tracking),
                ),
            ]
        )

    async def wait_projected(self, position: int) -> None:
        """Wait until the views reflect every event up to notification ``position``.

        While the views are stuck on an event (:attr:`stuck`), return at once: they
        hold everything before it and nothing after it, and that is what a reader gets.

        Raises:
            StoreUnavailable: the store is away, so the views cannot catch up.
        """
        while self.position < position and self.stuck is None:
            if self.ledger.bridge.store.away:
                raise StoreUnavailable("the views cannot catch up while the store is away")
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
            cur.execute("DELETE FROM atp_tracking WHERE view = ?", (self.tracking,))
        for view in self.views:
            view.reset()
        self.position = 0

    def statistics(self) -> ProjectionStatistics:
        """Position and counters, for /metrics and tests."""
        return ProjectionStatistics(
            self.position,
            self._events_applied,
            self._batches,
            self.ledger.last_committed,
            None if self.stuck is None else self.stuck.position,
            self._failed_pages,
        )
