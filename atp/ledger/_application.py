"""The ledger: the one eventsourcing Application, and the async face the carrier uses.

Its notification log is the carrier's single, totally ordered, append-only history
(design rule 1). It holds no business rules: aggregates decide, actors command, the
ledger stores and reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar
from uuid import UUID

import trio
from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate, DomainEventProtocol
from eventsourcing.persistence import IntegrityError

from atp.domain import Account, Agent, Message
from atp.ledger._bridge import Bridge
from atp.ledger._stores import eventsourcing_env
from atp.settings import Settings

__all__ = ["CarrierLedger", "Ledger", "LedgerConflict", "Notification"]

A = TypeVar("A", bound=Aggregate)
Notification = tuple[int, DomainEventProtocol[Any]]


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

    async def get(self, cls: type[A], aggregate_id: UUID) -> A | None:
        """Load an aggregate, or None if it was never stored."""
        return await self.bridge.run(self.get_sync, cls, aggregate_id)

    async def get_many(self, cls: type[A], aggregate_ids: Sequence[UUID]) -> dict[UUID, A]:
        """Load several aggregates in one trip to a worker thread; absent ones are left out."""

        def load() -> dict[UUID, A]:
            found = {i: self.get_sync(cls, i) for i in aggregate_ids}
            return {i: a for i, a in found.items() if a is not None}

        return await self.bridge.run(load)

    def get_sync(self, cls: type[A], aggregate_id: UUID) -> A | None:
        """:meth:`get` for code already in a worker thread."""
        try:
            aggregate: Aggregate = self.app.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None
        assert isinstance(aggregate, cls), f"{aggregate_id} is a {type(aggregate).__name__}"
        return aggregate

    async def save(self, aggregates: Sequence[Aggregate | DomainEventProtocol[Any]]) -> int:
        """Store ``aggregates``' pending events (or these events) in one transaction.

        Returns:
            The highest notification id written (the caller's read-your-writes mark).

        Raises:
            LedgerConflict: a version was already taken; nothing was stored.
        """
        events = [
            event
            for item in aggregates
            for event in (item.collect_events() if isinstance(item, Aggregate) else [item])
        ]
        try:
            # Straight to the event store: Application.save() checks every event against
            # runtime Protocols, which costs ~20 us per event on Python 3.11. Snapshots
            # are the journal's business.
            recordings = await self.bridge.run(self.app.events.put, events)
        except IntegrityError as exc:
            raise LedgerConflict(str(exc)) from exc
        if not recordings:
            return self.last_committed
        top = max(r.notification.id for r in recordings)
        self.last_committed = max(self.last_committed, top)
        self._committed.set()
        self._committed = trio.Event()
        return top

    async def wait_committed(self, after: int) -> None:
        """Wait until a save has committed something past notification ``after``."""
        while self.last_committed <= after:
            await self._committed.wait()

    async def notifications(self, start: int, limit: int) -> list[Notification]:
        """Up to ``limit`` events from notification id ``start`` on, decoded."""

        def read() -> list[Notification]:
            rows = self.app.recorder.select_notifications(start=start, limit=limit)
            return [(n.id, self.app.mapper.to_domain_event(n)) for n in rows]

        return await self.bridge.run(read)

    def close(self) -> None:
        """Release the store's connections."""
        self.app.close()
