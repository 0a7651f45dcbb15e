"""The ledger: the one eventsourcing Application, and the async face the carrier uses.

Its notification log is the carrier's single, totally ordered, append-only history
(design rule 1). It holds no business rules: aggregates decide, actors command, the
ledger stores and reads.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Any, Protocol, TypeVar
from uuid import UUID

import attrs
import trio
from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate, DomainEventProtocol
from eventsourcing.persistence import IntegrityError, StoredEvent

from atp.domain import Account, Agent, Message
from atp.errors import ProjectionStuck
from atp.ledger._bridge import Bridge
from atp.ledger._stores import eventsourcing_env
from atp.settings import Settings

__all__ = ["CarrierLedger", "Ledger", "LedgerConflict", "Notification"]

A = TypeVar("A", bound=Aggregate)
Notification = tuple[int, DomainEventProtocol[Any]]
_LOAD_CHUNK = 256
# Committed events kept for the followers until every one has applied them: the views
# follow a few milliseconds behind, the audit log up to its half-second gather and a
# page (about 2,000 events at 32 clients), so they seldom have to read and decode
# events back. They hold payloads, hence the bounds: by count, and by the size of
# their stored state. A commit of batch sends (32 batches of 100: 6,400 events, about
# 4 MB) must fit whole, or the views read all of it back (docs/performance.md).
_TAIL = 16384
_TAIL_BYTES = 16 * 2**20


@attrs.define(eq=False)
class _Lookup:
    ids: list[UUID]
    found: dict[UUID, Any] | BaseException | None = None
    done: trio.Event = attrs.field(factory=trio.Event)


class _ManyReader(Protocol):
    """Both ledger recorders read many aggregates' events with one statement."""

    def select_events_of(self, originator_ids: Sequence[UUID]) -> list[StoredEvent]: ...


class LedgerConflict(Exception):
    """Another writer already stored a version we tried to store (optimistic concurrency)."""


class CarrierLedger(Application[UUID]):
    """The eventsourcing Application that holds every aggregate of the carrier."""

    name = "atp"
    # Accounts and agents live for years; messages can collect many attempts.
    snapshotting_intervals = {Account: 100, Agent: 100, Message: 100}


class Ledger:
    """Async access to the :class:`CarrierLedger` through the thread bridge.

    Obligations: ``save`` is atomic across all given aggregates (one transaction);
    a failed save stores nothing; ``committed`` is set after every successful save
    so that projections wake without polling.
    """

    def __init__(self, settings: Settings, bridge: Bridge) -> None:
        self.app = CarrierLedger(env=eventsourcing_env(settings))
        self.bridge = bridge
        self.last_committed = self.app.recorder.max_notification_id() or 0
        self._committed = trio.Event()
        self._lookups: list[_Lookup] = []
        self._lookup_leader = False
        self._tail: dict[int, DomainEventProtocol[Any]] = {}
        # The tail's positions and stored sizes, oldest first: a dict's first key is
        # found by skipping the slots of the keys deleted before it.
        self._tail_order: deque[tuple[int, int]] = deque()
        self._tail_bytes = 0
        self._followers: dict[str, int] = {}  # each follower's position in the tail

    async def get(self, cls: type[A], aggregate_id: UUID) -> A | None:
        """Load an aggregate, or None if it was never stored."""
        return await self.bridge.read(self.get_sync, cls, aggregate_id)

    async def get_many(self, cls: type[A], aggregate_ids: Sequence[UUID]) -> dict[UUID, A]:
        """Load several never-snapshotted aggregates; absent ones are left out.

        Concurrent callers (many actors checking idempotency records at once) share
        trips to a worker thread: the first becomes the leader and, trip after trip,
        loads everything that queued up meanwhile, with one statement. Reading the
        event store directly skips the snapshot lookup the repository makes first,
        which halves the cost of a miss (the common case: most idempotency keys are new).
        """
        lookup = _Lookup(list(aggregate_ids))
        self._lookups.append(lookup)
        while lookup.found is None:
            if self._lookup_leader:
                await lookup.done.wait()
            else:
                await self._lead_lookups()
        if isinstance(lookup.found, BaseException):
            raise lookup.found
        return {i: a for i, a in lookup.found.items() if isinstance(a, cls)}

    async def _lead_lookups(self) -> None:
        self._lookup_leader = True
        try:
            while self._lookups:
                batch, self._lookups = self._lookups, []
                try:
                    found = await self.bridge.read(
                        self._load_events, [i for b in batch for i in b.ids]
                    )
                except Exception as exc:
                    for waiting in batch:
                        waiting.found = exc
                else:
                    for waiting in batch:
                        waiting.found = {i: found[i] for i in waiting.ids if i in found}
                for waiting in batch:
                    waiting.done.set()
        finally:
            self._lookup_leader = False
            for waiting in self._lookups:  # cancelled: wake the rest, one of them leads next
                waiting.done.set()
                waiting.done = trio.Event()

    def _load_events(self, aggregate_ids: list[UUID]) -> dict[UUID, Any]:
        recorder: _ManyReader = self.app.recorder  # type: ignore[assignment]
        found: dict[UUID, Any] = {}
        for stored in recorder.select_events_of(list(dict.fromkeys(aggregate_ids))):
            event: Any = self.app.mapper.to_domain_event(stored)
            aggregate_id: UUID = event.originator_id
            found[aggregate_id] = event.mutate(found.get(aggregate_id))
        return found

    async def load_all(self, cls: type[A], aggregate_ids: Sequence[UUID]) -> list[A]:
        """Load many aggregates (snapshots used), in order, a few hundred per thread trip;
        absent ones are left out. For rehydrating an actor with a long backlog."""

        def load(chunk: Sequence[UUID]) -> list[A]:
            return [a for i in chunk if (a := self.get_sync(cls, i)) is not None]

        loaded: list[A] = []
        for start in range(0, len(aggregate_ids), _LOAD_CHUNK):
            loaded.extend(await self.bridge.read(load, aggregate_ids[start : start + _LOAD_CHUNK]))
        return loaded

    async def load_versions(
        self, cls: type[A], wanted: Sequence[tuple[UUID, int]]
    ) -> dict[UUID, A]:
        """Each (aggregate id, version) asked for, as the aggregate stood at that version,
        in one thread trip. For a projection folding a page of later events."""

        def load() -> dict[UUID, A]:
            loaded: dict[UUID, A] = {}
            for aggregate_id, version in wanted:
                aggregate: Aggregate = self.app.repository.get(aggregate_id, version=version)
                assert isinstance(aggregate, cls), f"{aggregate_id} is a {type(aggregate).__name__}"
                loaded[aggregate_id] = aggregate
            return loaded

        return await self.bridge.read(load)

    def get_sync(self, cls: type[A], aggregate_id: UUID) -> A | None:
        """:meth:`get` for code already in a worker thread."""
        try:
            aggregate: Aggregate = self.app.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None
        assert isinstance(aggregate, cls), f"{aggregate_id} is a {type(aggregate).__name__}"
        return aggregate

    async def events_after(
        self, aggregate_id: UUID, version: int
    ) -> list[DomainEventProtocol[Any]]:
        """One aggregate's stored events after ``version``, oldest first (its history)."""
        return await self.bridge.read(lambda: list(self.app.events.get(aggregate_id, gt=version)))

    async def save(self, events: Sequence[DomainEventProtocol[Any]]) -> int:
        """Store these events in one transaction.

        Returns:
            The highest notification id written (the caller's read-your-writes mark).

        Raises:
            LedgerConflict: a version was already taken; nothing was stored.
        """
        # Straight to the recorder: Application.save() checks every event against
        # runtime Protocols (~20 us per event on Python 3.11), and EventStore.put would
        # encode in the worker thread. Encoding needs the interpreter lock, which a busy
        # main thread holds: done here, the thread's trip is the driver call alone, which
        # lets the lock go (docs/performance.md, "What paid"). Snapshots are the
        # journal's business.
        events_store = self.app.events
        stored = [events_store.mapper.to_stored_event(event) for event in events]
        try:
            ids = await self.bridge.run(events_store.recorder.insert_events, stored)
        except IntegrityError as exc:
            raise LedgerConflict(str(exc)) from exc
        if not ids:
            return self.last_committed
        self._remember(ids, events, stored)
        top = max(ids)
        self.note_committed(top)
        return top

    def _remember(
        self,
        ids: Sequence[int],
        events: Sequence[DomainEventProtocol[Any]],
        stored: Sequence[StoredEvent],
    ) -> None:
        tail, order = self._tail, self._tail_order
        for position, event, row in zip(ids, events, stored, strict=True):
            tail[position] = event
            order.append((position, len(row.state)))
            self._tail_bytes += len(row.state)
        while len(order) > _TAIL or self._tail_bytes > _TAIL_BYTES:
            self._forget_first()  # the runner fell far behind: it reads those back

    def _forget_first(self) -> None:
        position, size = self._tail_order.popleft()
        del self._tail[position]
        self._tail_bytes -= size

    def forget_through(self, follower: str, position: int) -> None:
        """``follower`` has applied everything up to ``position``: drop from memory what
        every follower has applied."""
        self._followers[follower] = position
        low = min(self._followers.values())
        order = self._tail_order
        while order and order[0][0] <= low:
            self._forget_first()

    def recent(self, start: int, stop: int, kinds: frozenset[type]) -> list[Notification] | None:
        """The committed events from notification id ``start`` to ``stop`` of these
        classes, from memory; None unless this process committed every one of them
        recently (then read them with :meth:`notifications_sync`)."""
        if stop - start >= len(self._tail):
            return None
        found: list[Notification] = []
        for position in range(start, stop + 1):
            event = self._tail.get(position)
            if event is None:  # not ours, long gone, or a gap in the ids
                return None
            if type(event) in kinds:
                found.append((position, event))
        return found

    def note_committed(self, position: int) -> None:
        """Notifications up to ``position`` are committed, by this process's save or by
        another's (the audit follower's server says so): wake what waits for them."""
        if position > self.last_committed:
            self.last_committed = position
            self._committed.set()
            self._committed = trio.Event()

    async def wait_committed(self, after: int) -> None:
        """Wait until a save has committed something past notification ``after``."""
        while self.last_committed <= after:
            await self._committed.wait()

    def notifications_sync(
        self, start: int, limit: int, stop: int | None = None, topics: Sequence[str] = ()
    ) -> list[Notification]:
        """Up to ``limit`` decoded events from notification id ``start`` to ``stop``, only
        of the given ``topics`` (all if empty). Call it from a worker thread.

        Raises:
            ProjectionStuck: a stored event does not decode (it is named, its data is not).
        """
        rows = self.app.recorder.select_notifications(
            start=start, limit=limit, stop=stop, topics=topics
        )
        decoded: list[Notification] = []
        for n in rows:
            try:
                decoded.append((n.id, self.app.mapper.to_domain_event(n)))
            except Exception as exc:
                reason = f"it does not decode ({type(exc).__name__})"
                raise ProjectionStuck(n.id, n.topic, str(n.originator_id), reason) from exc
        return decoded

    def first_events_sync(
        self, aggregate_ids: Sequence[UUID]
    ) -> dict[UUID, tuple[str, DomainEventProtocol[Any]]]:
        """Each aggregate's first event, with its topic (absent ones left out). Call it
        from a worker thread."""
        found: dict[UUID, tuple[str, DomainEventProtocol[Any]]] = {}
        for aggregate_id in aggregate_ids:
            rows = self.app.recorder.select_events(aggregate_id, lte=1, limit=1)
            if rows:
                found[aggregate_id] = (rows[0].topic, self.app.mapper.to_domain_event(rows[0]))
        return found

    def probe_sync(self) -> None:
        """Check that the ledger's store answers, after replacing the broken connections
        of its pool (PostgreSQL). Call it from a worker thread.

        Raises:
            Exception: the store's error, if it does not answer.
        """
        check_pool = getattr(self.app.factory, "check_pool", None)
        if check_pool is not None:
            check_pool()
        self.app.recorder.max_notification_id()

    def close(self) -> None:
        """Release the store's connections."""
        self.app.close()
