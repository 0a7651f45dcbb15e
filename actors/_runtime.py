"""The runtime: the carrier's live parts, as ``atp.serve`` wires and runs them.

Neither the actors nor the edge hold it: an actor is given an ``ActorContext``, the
HTTP edge a ``Carrier`` (``runtime.carrier``). Tests reach the parts through it.
"""

from __future__ import annotations

import attrs

from atp.actors._amtp_notifier import AmtpNotifier
from atp.actors._carrier import Carrier
from atp.actors._context import ActorContext
from atp.actors._dispatcher import WebhookDispatcher
from atp.actors._receipt_courier import ReceiptCourier
from atp.actors._supervisor import Supervisor
from atp.audit import AuditLog
from atp.ledger import Ledger
from atp.projections import ProjectionRunner

__all__ = ["Runtime"]


@attrs.define(eq=False)
class Runtime:
    """The carrier's live parts, wired together once at start."""

    context: ActorContext
    ledger: Ledger
    supervisor: Supervisor
    projections: ProjectionRunner
    dispatcher: WebhookDispatcher
    courier: ReceiptCourier
    notifier: AmtpNotifier
    audit: AuditLog
    carrier: Carrier = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self.carrier = Carrier(
            self.context,
            self.ledger,
            self.supervisor,
            self.projections,
            self.dispatcher,
            self.courier,
            self.notifier,
            self.audit,
        )
