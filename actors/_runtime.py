"""The runtime: everything an actor needs, and where a command finds its actor.

``ask`` is the one seam between the HTTP edge and the live state. Today every
mailbox and account lives in this process; running several processes on one
PostgreSQL means changing only ``_owner``: find the process that holds the actor's
lease and forward the command there.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, assert_never

import attrs

from atp.actors._account import AccountActor
from atp.actors._actor import Actor
from atp.actors._arrivals import Arrivals
from atp.actors._commands import (
    AckOpening,
    AnswerOpening,
    AnswerSession,
    ClaimInbox,
    CloseSession,
    Command,
    DisableWebhookEndpoint,
    ExpireOpening,
    ExpireSession,
    ExtendLease,
    FinishWebhookAttempt,
    IssueAuditorKey,
    OpenAccount,
    OpenSession,
    RecordAck,
    RecordPayloadRead,
    RedriveDeadLetter,
    RegisterAgent,
    ReleaseDeadLetter,
    Reply,
    RotateAgentKey,
    RotateSigningKey,
    RunDue,
    SendMessage,
    SendTurn,
    SetSenderPolicy,
    SetWebhookEndpoint,
    ViaSession,
)
from atp.actors._dispatcher import WebhookDispatcher
from atp.actors._idempotency import IdempotencyGate
from atp.actors._identities import Identities
from atp.actors._journal import JournalWriter
from atp.actors._mailbox import MailboxActor
from atp.actors._replay import ReplayActor
from atp.actors._replay_commands import (
    CancelReplay,
    FinishReplayAttempt,
    RunReplay,
    StartReplay,
    StartReplayAttempt,
)
from atp.actors._session import SessionActor
from atp.actors._supervisor import Supervisor
from atp.audit import AuditLog
from atp.errors import StoreUnavailable
from atp.ledger import Ledger, LedgerNotHeld
from atp.projections import ProjectionRunner, Queries
from atp.sealing import Sealer
from atp.settings import Settings

__all__ = ["Runtime"]


@attrs.define(eq=False)
class Runtime:
    """The carrier's live parts, wired together once at start."""

    settings: Settings
    ledger: Ledger
    journal: JournalWriter
    supervisor: Supervisor
    projections: ProjectionRunner
    queries: Queries
    identities: Identities
    gate: IdempotencyGate
    sealer: Sealer
    dispatcher: WebhookDispatcher = attrs.field(init=False)
    audit: AuditLog = attrs.field(init=False)
    arrivals: Arrivals = attrs.field(factory=Arrivals)
    # Wall-clock time for the domain (leases, expiry); tests may replace it.
    now: Callable[[], datetime] = lambda: datetime.now(UTC)

    async def ask(self, command: Command) -> Reply:
        """Deliver ``command`` to the actor that owns its aggregates and return the reply.

        While the store is away, or the writer lock is lost, a command is refused at
        once, before it reaches an actor: every command ends in a commit, and a command
        queued behind an actor that waits for the store would wait as long as the outage.

        Raises:
            AtpError: the command was refused; nothing was recorded.
            StoreUnavailable: the store is away, or went away while the command ran (it
                may have been committed: a retry with the same idempotency key tells).
        """
        store = self.ledger.bridge.store
        if store.away:
            store.refused()
            raise StoreUnavailable("the store is away")
        if not self.journal.may_commit:  # the writer lock is being taken again
            raise LedgerNotHeld()
        try:
            return await self._owner(command).ask(command)
        except ViaSession as via:
            # An ACK of a session's opening answers the session: its actor takes it.
            assert isinstance(command, RecordAck) and command.session is None
            redirected = AckOpening(via.session_id, command)
            return await self._owner(redirected).ask(redirected)

    def _owner(self, command: Command) -> Actor[Any]:
        match command:
            case (
                OpenAccount()
                | IssueAuditorKey()
                | RecordPayloadRead()
                | RegisterAgent()
                | RotateAgentKey()
                | SetWebhookEndpoint()
                | RotateSigningKey()
                | DisableWebhookEndpoint()
                | SetSenderPolicy()
            ):
                account_id = command.account_id
                return self.supervisor.actor(
                    AccountActor.key_of(account_id),
                    AccountActor,
                    lambda: AccountActor(account_id, self),
                )
            case (
                SendMessage()
                | ClaimInbox()
                | ExtendLease()
                | RecordAck()
                | RunDue()
                | FinishWebhookAttempt()
                | RedriveDeadLetter()
                | ReleaseDeadLetter()
                | AnswerOpening()
                | ExpireOpening()
                | StartReplayAttempt()
                | FinishReplayAttempt()
            ):
                agent_id = command.recipient_agent_id
                return self.supervisor.actor(
                    MailboxActor.key_of(agent_id),
                    MailboxActor,
                    lambda: MailboxActor(agent_id, self),
                )
            case (
                OpenSession()
                | SendTurn()
                | AnswerSession()
                | AckOpening()
                | CloseSession()
                | ExpireSession()
            ):
                session_id = command.session_id
                return self.supervisor.actor(
                    SessionActor.key_of(session_id),
                    SessionActor,
                    lambda: SessionActor(session_id, self),
                )
            case StartReplay() | RunReplay() | CancelReplay():
                replay_id = command.replay_id
                return self.supervisor.actor(
                    ReplayActor.key_of(replay_id),
                    ReplayActor,
                    lambda: ReplayActor(replay_id, self),
                )
            case _:
                assert_never(command)
