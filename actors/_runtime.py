"""The runtime: the carrier's live parts, as ``atp.serve`` wires and runs them.

Neither the actors nor the edge hold it: an actor is given an ``ActorContext``, the
HTTP edge a ``Carrier`` (``runtime.carrier``). Tests reach the parts through it.
"""

from __future__ import annotations

from datetime import datetime

import attrs

from atp.actors._arrivals import Arrivals
from atp.actors._carrier import Carrier
from atp.actors._commands import Command, Reply
from atp.actors._context import ActorContext
from atp.actors._dispatcher import WebhookDispatcher
from atp.actors._idempotency import IdempotencyGate
from atp.actors._identities import Identities
from atp.actors._journal import JournalWriter
from atp.actors._supervisor import Supervisor
from atp.audit import AuditLog
from atp.ledger import Ledger
from atp.projections import ProjectionRunner, Queries
from atp.sealing import Sealer
from atp.settings import Settings

__all__ = ["Runtime"]


@attrs.define(eq=False)
class Runtime:
    """The carrier's live parts, wired together once at start."""

    context: ActorContext
    ledger: Ledger
    supervisor: Supervisor
    projections: ProjectionRunner
    dispatcher: WebhookDispatcher
    audit: AuditLog
    carrier: Carrier = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self.carrier = Carrier(
            self.context,
            self.ledger,
            self.supervisor,
            self.projections,
            self.dispatcher,
            self.audit,
        )

    async def ask(self, command: Command) -> Reply:
        """Deliver ``command`` to the actor that owns it (``Router.ask``)."""
        return await self.context.ask(command)

    @property
    def settings(self) -> Settings:
        return self.context.settings

    @property
    def journal(self) -> JournalWriter:
        return self.context.journal

    @property
    def queries(self) -> Queries:
        return self.context.queries

    @property
    def identities(self) -> Identities:
        return self.context.identities

    @property
    def gate(self) -> IdempotencyGate:
        return self.context.gate

    @property
    def sealer(self) -> Sealer:
        return self.context.sealer

    @property
    def arrivals(self) -> Arrivals:
        return self.context.arrivals

    def now(self) -> datetime:
        return self.context.now()
