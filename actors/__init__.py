"""Live state: one supervised Trio task per mailbox and per account, and the journal.

The send path through this package: ``Runtime.ask`` finds (or starts) the owning
actor under the ``Supervisor``; the ``MailboxActor`` checks the command against its
``Message`` aggregates and records events; the ``JournalWriter`` commits the events
of many actors in one transaction and wakes the projections.
"""

from actors._account import AccountActor
from actors._actor import Actor, ActorStatistics
from actors._commands import (
    ClaimInbox,
    Command,
    ExpireDue,
    ExtendLease,
    OpenAccount,
    RecordAck,
    RegisterAgent,
    Reply,
    RotateAgentKey,
    SendMessage,
    SetSenderPolicy,
    SetWebhookEndpoint,
)
from actors._idempotency import IdempotencyGate, Replay, Ticket, request_hash
from actors._identities import Identities, Principal
from actors._journal import JournalStatistics, JournalWriter
from actors._mailbox import MailboxActor
from actors._runtime import Runtime
from actors._supervisor import Supervisor, SupervisorStatistics
from actors._sweeper import ExpirySweeper

__all__ = [
    "AccountActor",
    "Actor",
    "ActorStatistics",
    "ClaimInbox",
    "Command",
    "ExpireDue",
    "ExpirySweeper",
    "ExtendLease",
    "IdempotencyGate",
    "Identities",
    "JournalStatistics",
    "JournalWriter",
    "MailboxActor",
    "OpenAccount",
    "Principal",
    "RecordAck",
    "RegisterAgent",
    "Replay",
    "Reply",
    "RotateAgentKey",
    "Runtime",
    "SendMessage",
    "SetSenderPolicy",
    "SetWebhookEndpoint",
    "Supervisor",
    "SupervisorStatistics",
    "Ticket",
    "request_hash",
]
