"""Commands the actors accept, and the reply they give.

A command says what the caller wants; the owning actor checks it against the live
aggregates and either records events or raises an ``AtpError``. A reply is the
HTTP answer the contract fixes (status and body), because idempotent replay must
return exactly that answer, and the actor stores it in the same commit.
"""

from __future__ import annotations

from typing import Any, Literal, final

import attrs

from atp.actors._idempotency import Ticket
from atp.actors.account_commands import (
    AccountCommand,
    DeactivateAgent,
    DisableWebhookEndpoint,
    EnsureSigningKey,
    IssueAuditorKey,
    OpenAccount,
    RecordPayloadRead,
    RegisterAgent,
    RotateAgentKey,
    RotateSigningKey,
    SetSenderPolicy,
    SetWebhookEndpoint,
)
from atp.actors.envelope_commands import EnvelopeCommand, RecordEnvelope
from atp.actors.name_commands import NameCommand
from atp.actors.receipt_commands import ReceiptCommand
from atp.actors.relay_commands import RelayCommand
from atp.actors.replay_commands import (
    FinishReplayAttempt,
    ReplayCommand,
    StartReplayAttempt,
)
from atp.actors.schema_commands import SchemaCommand
from atp.actors.webhook_commands import WebhookCommand
from atp.actors.workflow_commands import WorkflowCommand
from atp.domain import AckStatus, Session
from atp.wire import A2AAnswer

__all__ = [
    "AccountCommand",
    "AckOpening",
    "AnswerOpening",
    "AnswerSession",
    "CancelMessage",
    "ClaimInbox",
    "CloseSession",
    "Command",
    "DeactivateAgent",
    "DisableWebhookEndpoint",
    "EnsureSigningKey",
    "EnvelopeCommand",
    "ExpireOpening",
    "ExpireSession",
    "ExtendLease",
    "FeedStream",
    "FinishRemoteTask",
    "FinishWebhookAttempt",
    "Forward",
    "IssueAuditorKey",
    "MailboxCommand",
    "NameCommand",
    "OpenAccount",
    "OpenSession",
    "ReceiptCommand",
    "RecordAck",
    "RecordEnvelope",
    "RecordPayloadRead",
    "RedriveDeadLetter",
    "RegisterAgent",
    "RelayCommand",
    "ReleaseDeadLetter",
    "ReleaseLeases",
    "Reply",
    "RotateAgentKey",
    "RotateSigningKey",
    "RunDue",
    "SchemaCommand",
    "SendMessage",
    "SendTurn",
    "SessionCommand",
    "SetSenderPolicy",
    "SetWebhookEndpoint",
    "TakeMessage",
    "WebhookCommand",
    "WorkflowCommand",
]


@final
@attrs.frozen
class Reply:
    """What the HTTP edge answers: a status and a JSON body.

    An answer kept for idempotent replay also carries the body's stored bytes
    (``encoded``), which the edge sends as they are: the first answer and its replays
    are the same bytes, and the body is encoded once.
    """

    status: int
    body: dict[str, Any]
    encoded: bytes | None = attrs.field(default=None, eq=False, repr=False)

    @property
    def kept(self) -> bool:
        """Whether this answer is kept for idempotent replay (a long poll's "nothing
        yet" is not: it asks again)."""
        return self.encoded is not None


# -- mailbox actor: one recipient's messages ---------------------------------------------


@final
@attrs.frozen
class SendMessage:
    """A direct message, or (with ``session``) a session's opening or next turn.

    A session command lends its ``Session`` here: the mailbox stages it with the new
    message, so the sequence number and the message commit together. The session actor
    waits for the reply meanwhile, so nothing else touches the lent aggregate.
    """

    recipient_agent_id: str
    sender_agent_id: str
    sender_account_id: str
    payload: Any
    ticket: Ticket
    session: Session | None = attrs.field(default=None, eq=False, repr=False)


@final
@attrs.frozen
class ClaimInbox:
    """Claim the oldest claimable message (or up to ``most``); with ``wait``, an answer
    of none is not kept (``Reply.kept``): a long poll will ask again."""

    recipient_agent_id: str
    lease_seconds: int
    ticket: Ticket
    wait: bool = False
    most: int | None = None  # None: the reference's one-message shape


@final
@attrs.frozen
class TakeMessage:
    """Lease one named message (or find the delivery it may be answered on): an AMTP
    inbox acknowledges by message id, and an ACK needs a delivery."""

    recipient_agent_id: str
    message_id: str
    lease_seconds: int


@final
@attrs.frozen
class FeedStream:
    """A streaming consumer's turn: which deliveries it was handed still hold their
    lease (renewed as they age), and new claims up to ``credit`` held in all."""

    recipient_agent_id: str
    holding: tuple[str, ...]
    credit: int
    lease_seconds: int


@final
@attrs.frozen
class ReleaseLeases:
    """A streaming consumer went away: end its leases; the messages are claimable now."""

    recipient_agent_id: str
    delivery_ids: tuple[str, ...]


@final
@attrs.frozen
class ExtendLease:
    recipient_agent_id: str
    delivery_id: str
    lease_seconds: int
    ticket: Ticket


@final
@attrs.frozen
class RecordAck:
    """An ACK; the mailbox forwards one of a session's opening message to its session
    actor (``Forward``), which lends the session so the answer commits with the ACK."""

    recipient_agent_id: str
    delivery_id: str
    status: AckStatus
    payload: Any
    ticket: Ticket
    session: Session | None = attrs.field(default=None, eq=False, repr=False)


@final
@attrs.frozen
class AnswerOpening:
    """The recipient accepts or rejects a pending session (contract §1.12)."""

    recipient_agent_id: str
    status: Literal["accepted", "rejected"]
    payload: Any
    ticket: Ticket
    session: Session = attrs.field(eq=False, repr=False)


@final
@attrs.frozen
class ExpireOpening:
    """A pending session's opening message expired: expire it, fail the session."""

    recipient_agent_id: str
    session: Session = attrs.field(eq=False, repr=False)


@final
@attrs.frozen
class RunDue:
    """Do what has fallen due: expire overdue messages, claim due webhook deliveries.
    The mailbox's deadline timer sends it, and the sweep for mailboxes stopped idle."""

    recipient_agent_id: str


@final
@attrs.frozen
class FinishWebhookAttempt:
    """How a webhook attempt ended, reported by the dispatcher to the mailbox."""

    recipient_agent_id: str
    message_id: str
    claim_token: str
    response_status: int | None
    error: str | None
    retry_after: float | None
    request_url: str | None = attrs.field(repr=False)
    # An A2A recipient's answer (endpoint kind "a2a"), recorded as its ACK.
    answer: A2AAnswer | None = attrs.field(default=None, repr=False)


@final
@attrs.frozen
class RedriveDeadLetter:
    recipient_agent_id: str
    message_id: str
    ticket: Ticket


@final
@attrs.frozen
class ReleaseDeadLetter:
    recipient_agent_id: str
    message_id: str
    ticket: Ticket


@final
@attrs.frozen
class CancelMessage:
    """Its sender withdraws a message nobody has been handed (A2A ``CancelTask``); asked
    again, it answers the message as it stands."""

    recipient_agent_id: str
    message_id: str
    sender_agent_id: str


@final
@attrs.frozen
class FinishRemoteTask:
    """An A2A recipient's task, answered as going on and followed since, has ended: its
    end is the message's next ACK (the dispatcher reports)."""

    recipient_agent_id: str
    message_id: str
    answer: A2AAnswer = attrs.field(repr=False)


# -- session actor: one session's lifecycle and turns ------------------------------------


@final
@attrs.frozen
class OpenSession:
    session_id: str
    initiator_agent_id: str
    initiator_account_id: str
    recipient_agent_id: str
    payload: Any
    ticket: Ticket


@final
@attrs.frozen
class SendTurn:
    session_id: str
    sender_agent_id: str
    sender_account_id: str
    payload: Any
    ticket: Ticket


@final
@attrs.frozen
class AnswerSession:
    session_id: str
    agent_id: str
    status: Literal["accepted", "rejected"]
    payload: Any
    ticket: Ticket


@final
@attrs.frozen
class AckOpening:
    session_id: str
    ack: RecordAck


@final
@attrs.frozen
class CloseSession:
    session_id: str
    agent_id: str
    ticket: Ticket


@final
@attrs.frozen
class ExpireSession:
    """The session's own deadline (its opening's expiry), or the sweep waking it."""

    session_id: str


MailboxCommand = (
    SendMessage
    | ClaimInbox
    | TakeMessage
    | FeedStream
    | ReleaseLeases
    | ExtendLease
    | RecordAck
    | RunDue
    | FinishWebhookAttempt
    | FinishRemoteTask
    | RedriveDeadLetter
    | ReleaseDeadLetter
    | CancelMessage
    | AnswerOpening
    | ExpireOpening
    | StartReplayAttempt
    | FinishReplayAttempt
)
SessionCommand = OpenSession | SendTurn | AnswerSession | AckOpening | CloseSession | ExpireSession
Command = (
    AccountCommand
    | MailboxCommand
    | SessionCommand
    | ReplayCommand
    | ReceiptCommand
    | NameCommand
    | EnvelopeCommand
    | RelayCommand
    | SchemaCommand
    | WorkflowCommand
    | WebhookCommand
)


@final
@attrs.frozen
class Forward:
    """What an actor hands on instead of answering: ``command``, for the actor that owns
    it (an ACK of a session's opening answers the session: its actor takes it)."""

    command: Command
