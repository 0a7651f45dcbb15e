"""The carrier as the HTTP edge uses it: ask, read the views once current, follow a
history, say whether it is ready, and count.

The edge (``atp.api``) holds this and nothing else of the carrier, so that it never
reaches the ledger, the views' store or a thread bridge itself: a read waits for the
views here, readiness probes the stores here, and the metrics read one snapshot of
every part's counters.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

import attrs
import trio
from eventsourcing.domain import Aggregate, DomainEventProtocol

from atp.actors._amtp_notifier import AmtpNotifier, NoticeStatistics
from atp.actors._arrivals import Arrivals
from atp.actors._context import ActorContext
from atp.actors._dispatcher import WebhookDispatcher, WebhookStatistics
from atp.actors._idempotency import IdempotencyGate
from atp.actors._identities import Identities
from atp.actors._journal import JournalStatistics
from atp.actors._liveness import Liveness, LivenessStatistics
from atp.actors._receipt_courier import ReceiptCourier, ReceiptStatistics
from atp.actors._supervisor import Supervisor, SupervisorStatistics
from atp.actors.commands import Command, Reply
from atp.audit import AuditLog, AuditStatistics
from atp.federation import DirectoryStatistics, Federation
from atp.ledger import BridgeStatistics, Ledger, StoreStatistics, WriterLockStatistics
from atp.projections import (
    DeadLetterStatistics,
    MessagesView,
    ProjectionRunner,
    ProjectionStatistics,
    Queries,
)
from atp.settings import Settings

__all__ = ["Carrier", "CarrierStatistics", "WriterLockState"]

A = TypeVar("A", bound=Aggregate)

# The reference gives the database check 2 s (contract §1.3); past it, "error".
_READY_WITHIN = 2.0


@attrs.frozen
class WriterLockState:
    held: bool
    statistics: WriterLockStatistics


@attrs.frozen
class CarrierStatistics:
    """Every part's counters at one moment (for ``/metrics``)."""

    actors: SupervisorStatistics
    journal: JournalStatistics
    threads: BridgeStatistics
    store: StoreStatistics
    writer_lock: WriterLockState | None  # None: no lock (in-process tests)
    projections: ProjectionStatistics
    dead_letters: DeadLetterStatistics | None
    audit: AuditStatistics
    audit_lag: int  # notifications committed and not yet in the audit log
    webhooks: WebhookStatistics
    receipts: ReceiptStatistics
    notices: NoticeStatistics  # AMTP delivery notifications
    gateways: DirectoryStatistics | None  # other domains' AMTP gateways (None: not wired)
    liveness: LivenessStatistics


class Carrier:
    """The edge's view of the running carrier."""

    def __init__(
        self,
        context: ActorContext,
        ledger: Ledger,
        supervisor: Supervisor,
        projections: ProjectionRunner,
        dispatcher: WebhookDispatcher,
        courier: ReceiptCourier,
        notifier: AmtpNotifier,
        audit: AuditLog,
    ) -> None:
        self._context = context
        self._ledger = ledger
        self._supervisor = supervisor
        self._projections = projections
        self._dispatcher = dispatcher
        self._courier = courier
        self._notifier = notifier
        self.audit = audit
        messages = [v for v in projections.views if isinstance(v, MessagesView)]
        self._messages = messages[0] if messages else None

    # -- what a request uses ------------------------------------------------------------

    @property
    def settings(self) -> Settings:
        return self._context.settings

    @property
    def federation(self) -> Federation | None:
        """AMTP federation: other gateways, this one's key (None: not wired, in tests
        of the edge alone)."""
        return self._context.federation

    @property
    def identities(self) -> Identities:
        return self._context.identities

    @property
    def gate(self) -> IdempotencyGate:
        return self._context.gate

    @property
    def arrivals(self) -> Arrivals:
        return self._context.arrivals

    @property
    def liveness(self) -> Liveness:
        return self._context.liveness

    def now(self) -> datetime:
        return self._context.now()

    def watch_receipts(self, task_id: str) -> None:
        """Have the task's receipts sent again from where they are (its message went
        on after it ended: a dead letter redriven or released)."""
        self._courier.watch(task_id)

    def unseal(self, sealed: str) -> str:
        """A secret the ledger holds sealed, to show it to its owner."""
        return self._context.sealer.unseal(sealed).decode()

    async def ask(self, command: Command) -> Reply:
        """Deliver ``command`` to the actor that owns it (``Router.ask``)."""
        return await self._context.ask(command)

    async def views(self) -> Queries:
        """The views, once they hold everything committed before this call: what a
        request reads, so that it sees its own (and earlier requests') writes."""
        await self._projections.wait_current()
        return self._context.queries

    @property
    def views_stuck(self) -> bool:
        """Whether the views are stuck on an event they cannot apply (the log names it)."""
        return self._projections.stuck is not None

    async def aggregate(self, cls: type[A], aggregate_id: UUID) -> A | None:
        """One aggregate as committed, if it exists."""
        return await self._ledger.get(cls, aggregate_id)

    async def aggregates(self, cls: type[A], aggregate_ids: Sequence[UUID]) -> list[A]:
        """Many aggregates as committed, in order; absent ones left out."""
        return await self._ledger.load_all(cls, aggregate_ids)

    async def history_after(
        self, aggregate_id: UUID, version: int
    ) -> list[DomainEventProtocol[Any]]:
        """One aggregate's committed events after ``version``, oldest first."""
        return await self._ledger.events_after(aggregate_id, version)

    async def versions(self, cls: type[A], wanted: Sequence[tuple[UUID, int]]) -> dict[UUID, A]:
        """Aggregates as they were at the given versions (``as_of``)."""
        return await self._ledger.load_versions(cls, wanted)

    # -- what operators ask -------------------------------------------------------------

    async def ready(self) -> dict[str, str]:
        """``/ready``'s checks, each ``ok`` or ``error`` (contract §1.3)."""
        return {
            "database": "ok" if await self._stores_ok() else "error",
            "transport_runtime": "ok" if self._supervisor.is_running else "error",
            "webhook_dispatcher": "ok" if self._dispatcher.is_running else "error",
        }

    async def _stores_ok(self) -> bool:
        """Both stores answer within the timeout, the views are not stuck, and the writer
        lock (if any) is held.

        A store known to be away is not asked (the answer must not wait on it); a check
        that finds it failing reports that, so the store is probed until it is back.
        """
        bridge = self._ledger.bridge
        if bridge.store.away or self.views_stuck:
            return False
        if not self._context.journal.may_commit:  # the writer lock is lost
            return False
        queries = self._context.queries
        deadline = trio.current_time() + _READY_WITHIN
        try:
            await queries.bridge.probe(
                queries.store.query, "SELECT count(*) FROM atp_tracking", within=_READY_WITHIN
            )
            await bridge.probe(
                self._ledger.app.recorder.max_notification_id,
                within=max(0.0, deadline - trio.current_time()),
            )
        except Exception:
            return False
        return True

    def statistics(self) -> CarrierStatistics:
        """Every part's counters now."""
        journal = self._context.journal
        lock = journal.writer
        audit = self.audit.statistics()
        return CarrierStatistics(
            actors=self._supervisor.statistics(),
            journal=journal.statistics(),
            threads=self._ledger.bridge.statistics(),
            store=self._ledger.bridge.store.statistics(),
            writer_lock=None if lock is None else WriterLockState(lock.held, lock.statistics()),
            projections=self._projections.statistics(),
            dead_letters=None if self._messages is None else self._messages.statistics(),
            audit=audit,
            audit_lag=max(0, self._ledger.last_committed - audit.position),
            webhooks=self._dispatcher.statistics(),
            receipts=self._courier.statistics(),
            notices=self._notifier.statistics(),
            gateways=None if self.federation is None else self.federation.directory.statistics(),
            liveness=self._context.liveness.statistics(),
        )
