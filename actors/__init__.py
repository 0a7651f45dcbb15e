"""Live state: one supervised Trio task per mailbox, account, session, replay, task
with receipts and agent name, the journal, the webhook dispatcher, the receipt courier
and the AMTP notifier.

The send path through this package: ``ActorContext.ask`` hands the command to the
``Router``, which finds (or starts) the owning actor under the ``Supervisor``; the
``MailboxActor`` checks the command against its ``Message`` aggregates and records
events; the ``JournalWriter`` commits the events of many actors in one transaction
and wakes the projections. A push goes on from the mailbox's commit to the
``WebhookDispatcher`` and back to the mailbox as a command. Every actor is given the
``ActorContext`` (what it may use) and nothing else.

The commands the actors take, and their ``Reply`` and ``Forward``, are declared once, in
``atp.actors.commands`` (the account actor's in ``atp.actors.account_commands``, the
replay actor's in ``atp.actors.replay_commands``), and imported from there.
"""

from atp.actors._account import AccountActor
from atp.actors._actor import Actor, ActorStatistics
from atp.actors._amtp_notifier import AmtpNotifier
from atp.actors._amtp_webhooks import webhook_answer
from atp.actors._carrier import Carrier, CarrierStatistics, WriterLockState
from atp.actors._context import ActorContext, LedgerReads, Routes, ViewsProgress
from atp.actors._dispatcher import WebhookDispatcher, WebhookStatistics
from atp.actors._idempotency import (
    IdempotencyGate,
    StoredAnswer,
    Ticket,
    encode_answer,
    request_hash,
)
from atp.actors._identities import Identities, Principal
from atp.actors._journal import JournalStatistics, JournalWriter
from atp.actors._liveness import Liveness, LivenessStatistics
from atp.actors._names import NamesActor
from atp.actors._pushes import Pushes, Receipts, WebhookJob
from atp.actors._receipt_courier import ReceiptCourier, ReceiptStatistics
from atp.actors._receipts import ReceiptsActor
from atp.actors._replay import ReplayActor
from atp.actors._router import Router
from atp.actors._runtime import Runtime
from atp.actors._session import SessionActor
from atp.actors._supervisor import Supervisor, SupervisorStatistics
from atp.actors._sweeper import DueSweeper
from atp.actors.mailbox import MailboxActor

__all__ = [
    "AccountActor",
    "Actor",
    "ActorContext",
    "ActorStatistics",
    "AmtpNotifier",
    "Carrier",
    "CarrierStatistics",
    "DueSweeper",
    "IdempotencyGate",
    "Identities",
    "JournalStatistics",
    "JournalWriter",
    "LedgerReads",
    "Liveness",
    "LivenessStatistics",
    "MailboxActor",
    "NamesActor",
    "Principal",
    "Pushes",
    "ReceiptCourier",
    "ReceiptStatistics",
    "Receipts",
    "ReceiptsActor",
    "ReplayActor",
    "Router",
    "Routes",
    "Runtime",
    "SessionActor",
    "StoredAnswer",
    "Supervisor",
    "SupervisorStatistics",
    "Ticket",
    "ViewsProgress",
    "WebhookDispatcher",
    "WebhookJob",
    "WebhookStatistics",
    "WriterLockState",
    "encode_answer",
    "request_hash",
    "webhook_answer",
]
