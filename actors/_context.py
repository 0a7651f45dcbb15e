"""What an actor may use: the one object every actor and its helpers are given.

An actor records through the journal, looks keys up through the idempotency gate,
reads the ledger and the views, seals secrets, tells waiters of news, hands pushes to
the dispatcher and tasks with receipts to the courier, and asks other actors, through
the router. It is given exactly that, so that a test drives an actor with fakes of
these parts and nothing else, and so that
``actors/`` has no module that everything imports and that imports everything.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar
from uuid import UUID

import attrs
from eventsourcing.domain import Aggregate, DomainEventProtocol

from atp.actors._arrivals import Arrivals
from atp.actors._idempotency import IdempotencyGate
from atp.actors._identities import Identities
from atp.actors._journal import JournalWriter
from atp.actors._liveness import Liveness
from atp.actors._pushes import Notices, Pushes, Receipts
from atp.actors.commands import Command, Reply
from atp.errors import ProjectionStuck
from atp.federation import Federation
from atp.projections import Queries
from atp.sealing import Sealer
from atp.settings import Settings

__all__ = ["ActorContext", "LedgerReads", "Routes", "ViewsProgress"]

A = TypeVar("A", bound=Aggregate)


class LedgerReads(Protocol):
    """The ledger as an actor reads it: committed aggregates, by id."""

    async def get(self, cls: type[A], aggregate_id: UUID) -> A | None: ...
    async def get_many(self, cls: type[A], ids: Sequence[UUID]) -> dict[UUID, A]: ...
    async def load_all(self, cls: type[A], ids: Sequence[UUID]) -> list[A]: ...
    async def events_after(
        self, aggregate_id: UUID, version: int
    ) -> list[DomainEventProtocol[Any]]: ...


class ViewsProgress(Protocol):
    """How far the views are: a read that must see an actor's own commits waits first."""

    @property
    def stuck(self) -> ProjectionStuck | None: ...
    async def wait_current(self) -> None: ...


class Routes(Protocol):
    """Where a command goes: the actor that owns its aggregates (``atp.actors.Router``)."""

    async def ask(self, command: Command, context: ActorContext) -> Reply: ...


@attrs.define(eq=False)
class ActorContext:
    """The carrier's parts as actors see them, wired once at start."""

    settings: Settings
    journal: JournalWriter
    gate: IdempotencyGate
    identities: Identities
    ledger: LedgerReads
    queries: Queries
    views: ViewsProgress
    sealer: Sealer
    pushes: Pushes
    receipts: Receipts
    routes: Routes
    arrivals: Arrivals = attrs.field(factory=Arrivals)
    # AMTP federation (atp.federation): None in tests of the actors alone.
    federation: Federation | None = None
    # Where AMTP messages go for their senders' webhooks: None in tests of actors alone.
    notices: Notices | None = None
    liveness: Liveness = attrs.field(factory=Liveness)
    # Wall-clock time for the domain (leases, expiry); tests may replace it.
    now: Callable[[], datetime] = lambda: datetime.now(UTC)

    async def webhook_attempts(self, account_id: str) -> int:
        """How many attempts a push (or a receipt) of the account's agents gets: its
        plan's ``ATP_WEBHOOK_MAX_ATTEMPTS``."""
        account = await self.identities.account(account_id)
        return self.settings.webhook_max_attempts.get(account.plan if account else "free", 3)

    async def ask(self, command: Command) -> Reply:
        """Deliver ``command`` to its owning actor and return the reply (``Router.ask``)."""
        return await self.routes.ask(command, self)
