"""The journal writer: group commit of many actors' events in one transaction.

One event per transaction is bounded by the store's commit rate (a few thousand a
second on SQLite, under a thousand on PostgreSQL, whose recorder locks the events
table on every insert). Committing everything that is waiting in one transaction
multiplies throughput (spec/stack-facts.md). Actors hand over their events and wait
for the result; the writer commits whatever has queued up while the previous
commit ran, so batches grow with load and latency stays one commit when idle.
"""

from __future__ import annotations

import logging
import math
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any
from uuid import UUID

import attrs
import trio
from eventsourcing.domain import Aggregate, DomainEventProtocol

from atp.errors import StoreUnavailable
from atp.ledger import Ledger, LedgerConflict, LedgerNotHeld, WriterLock
from atp.observe import Histogram, HistogramSnapshot, describe_exception

__all__ = ["JournalStatistics", "JournalWriter"]

log = logging.getLogger(__name__)

# Scheduling rounds the writer lets pass before it takes a batch: actors that are
# runnable now (woken by the previous commit, or by their idempotency lookup) hand in
# their events first, so the commit is bigger and commits are fewer. No time passes
# while nothing else is runnable. Three paid most (docs/performance.md, "What paid").
_GATHER_ROUNDS = 3


# Requests (actor batches) per commit, and seconds per commit.
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
_COMMIT_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)


@attrs.frozen
class JournalStatistics:
    """Commits and events so far, the largest batch, requests waiting; commit batch
    sizes (requests per commit) and durations; commits that failed."""

    commits: int
    events: int
    largest_batch: int
    queued: int
    batch_sizes: HistogramSnapshot
    commit_seconds: HistogramSnapshot
    failures: int


@attrs.define(eq=False)
class _Request:
    aggregates: Sequence[Aggregate]
    events: Sequence[DomainEventProtocol[Any]]
    done: trio.Event = attrs.field(factory=trio.Event)
    position: int = 0
    error: BaseException | None = None


class JournalWriter:
    """Commits the pending events of many actors together.

    Obligations: a request's events are committed all or not at all; one request's
    conflict never fails another request of the same batch; every request is
    answered. Snapshots are taken after commit, for the aggregates whose version
    crossed the ledger's snapshot interval. With a ``writer`` lock, nothing is committed
    while the lock is not held (lost with its connection, or taken by another process):
    each batch fails at once with ``LedgerNotHeld``, without a trip to the store.
    """

    def __init__(
        self, ledger: Ledger, max_batch: int = 512, writer: WriterLock | None = None
    ) -> None:
        self.ledger = ledger
        self.max_batch = max_batch
        self.writer = writer
        self._send, self._receive = trio.open_memory_channel[_Request](math.inf)
        self._commits = 0
        self._events = 0
        self._largest = 0
        self._failures = 0
        self._batch_sizes = Histogram(_BATCH_BUCKETS)
        self._commit_seconds = Histogram(_COMMIT_BUCKETS)

    @property
    def may_commit(self) -> bool:
        """Whether a commit can be tried now: the writer lock, if any, is held."""
        return self.writer is None or self.writer.held

    async def commit(self, aggregates: Sequence[Aggregate]) -> int:
        """Commit the pending events of ``aggregates``; return the highest notification id.

        Raises:
            LedgerConflict: another writer took one of these versions; nothing was stored.
            LedgerNotHeld: the writer lock is not held; nothing was stored.
        """
        events: list[DomainEventProtocol[Any]] = [
            event for aggregate in aggregates for event in aggregate.collect_events()
        ]
        if not events:
            return self.ledger.last_committed
        request = _Request(aggregates, events)
        self._send.send_nowait(request)
        # Not cancellable past this point in effect: the commit happens or fails regardless.
        await request.done.wait()
        if request.error is not None:
            raise request.error
        return request.position

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Commit batches until cancelled; then flush what is queued."""
        task_status.started()
        try:
            while True:
                batch = [await self._receive.receive()]
                for _ in range(_GATHER_ROUNDS):  # shielded: ``batch`` must reach a commit
                    await trio.lowlevel.cancel_shielded_checkpoint()
                while len(batch) < self.max_batch:
                    try:
                        batch.append(self._receive.receive_nowait())
                    except trio.WouldBlock:
                        break
                await self._commit_batch(batch)
        finally:
            with trio.CancelScope(shield=True):
                await self.flush()

    async def flush(self) -> None:
        """Commit everything already queued (graceful shutdown)."""
        batch: list[_Request] = []
        while True:
            try:
                batch.append(self._receive.receive_nowait())
            except trio.WouldBlock:
                break
        if batch:
            await self._commit_batch(batch)

    async def _commit_batch(self, batch: list[_Request]) -> None:
        if not self.may_commit:
            for request in batch:
                self._answer(request, error=LedgerNotHeld())
            return
        started = time.perf_counter()
        try:
            position = await self.ledger.save([e for r in batch for e in r.events])
        except LedgerConflict:
            if len(batch) == 1:
                self._answer(batch[0], error=LedgerConflict("version taken"))
                return
            # Isolate the conflicting request: the others must not fail with it.
            for request in batch:
                await self._commit_batch([request])
            return
        except Exception as exc:
            # Class and place only: a store error's text can quote the rows it failed on.
            # An absent store is logged once, by its record (atp.ledger), not once a batch.
            if not isinstance(exc, StoreUnavailable):
                log.error("journal commit failed (%s)", describe_exception(exc))
            self._failures += 1
            for request in batch:
                self._answer(request, error=exc)
            return
        self._commit_seconds.observe(time.perf_counter() - started)
        self._batch_sizes.observe(len(batch))
        self._commits += 1
        self._events += sum(len(r.events) for r in batch)
        self._largest = max(self._largest, len(batch))
        for request in batch:
            self._answer(request, position=position)
        await self._snapshot(batch)

    @staticmethod
    def _answer(
        request: _Request, *, position: int = 0, error: BaseException | None = None
    ) -> None:
        request.position = position
        request.error = error
        request.done.set()

    async def _snapshot(self, batch: list[_Request]) -> None:
        intervals = self.ledger.app.snapshotting_intervals
        due = []
        for request in batch:
            grown: Counter[UUID] | None = None
            for aggregate in request.aggregates:
                interval = intervals.get(type(aggregate))
                # It crossed a multiple of its interval only if it grew by more than its
                # version's remainder; the request's events bound that growth.
                if not interval or aggregate.version % interval >= len(request.events):
                    continue
                if grown is None:
                    grown = Counter(e.originator_id for e in request.events)
                version = aggregate.version
                if version // interval > (version - grown[aggregate.id]) // interval:
                    due.append((aggregate.id, version))
        for aggregate_id, version in due:
            try:
                await self.ledger.bridge.run(self.ledger.app.take_snapshot, aggregate_id, version)
            except Exception as exc:  # a snapshot is an optimisation: never fail a commit for it
                log.warning(
                    "snapshot of %s v%s failed (%s)", aggregate_id, version, describe_exception(exc)
                )

    def statistics(self) -> JournalStatistics:
        """Counters for /metrics and the benchmark."""
        queued = self._receive.statistics().current_buffer_used
        return JournalStatistics(
            self._commits,
            self._events,
            self._largest,
            queued,
            self._batch_sizes.snapshot(),
            self._commit_seconds.snapshot(),
            self._failures,
        )
