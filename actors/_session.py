"""SessionActor: one session's only writer; it serialises its turns and runs its expiry.

Sends to a session come here one at a time, so sequence numbers are contiguous
without locks. A turn becomes a message in the counterparty's mailbox: the actor
lends its ``Session`` to that mailbox, which stages it with the new message, so the
number and the message commit together (or not at all). Answers to the opening
(accept, reject, or an ACK of the opening delivery) go the same way, to the
recipient's mailbox. A pending session's timer fails it when its opening expires;
the sweep wakes a stopped actor in time, also after a restart.

A lent session is changed by the mailbox only after every check passed; if the
mailbox's batch crashes instead, the actor reloads the session from the ledger, so
an uncommitted change never lingers.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import assert_never

import attrs

from atp.actors._actor import Actor
from atp.actors._context import ActorContext
from atp.actors.commands import (
    AckOpening,
    AnswerOpening,
    AnswerSession,
    CloseSession,
    Command,
    ExpireOpening,
    ExpireSession,
    OpenSession,
    Reply,
    SendMessage,
    SendTurn,
    SessionCommand,
)
from atp.domain import Session, aggregate_id, new_id
from atp.errors import (
    AtpError,
    InvalidSessionRecipient,
    NotFound,
    RecipientNotFound,
    UnexpectedError,
)
from atp.wire import session_document

__all__ = ["SessionActor"]


class SessionActor(Actor[SessionCommand]):
    """One session: its lifecycle, its turns' numbers, its opening's expiry."""

    kind = "session"

    def __init__(self, session_id: str, context: ActorContext) -> None:
        super().__init__(session_id, context)
        self.session_id = session_id
        self.session: Session | None = None

    async def rehydrate(self) -> None:
        self.session = await self.context.ledger.get(Session, aggregate_id(self.session_id))

    async def handle(self, command: SessionCommand) -> Reply:
        match command:
            case OpenSession():
                return await self._open(command)
            case SendTurn():
                session = self._participant(command.sender_agent_id)
                session.check_open()
                recipient = session.counterparty(command.sender_agent_id)
                return await self._lend(
                    SendMessage(
                        recipient,
                        command.sender_agent_id,
                        command.sender_account_id,
                        command.payload,
                        command.ticket,
                        session,
                    )
                )
            case AnswerSession():
                session = self._participant(command.agent_id)
                if command.agent_id != session.recipient_agent_id:
                    raise NotFound("session")  # only the recipient answers (§1.12)
                session.check_pending()
                return await self._lend(
                    AnswerOpening(
                        command.agent_id,
                        command.status,
                        command.payload,
                        command.ticket,
                        session,
                    )
                )
            case AckOpening():
                session = self._participant(command.ack.recipient_agent_id)
                return await self._lend(attrs.evolve(command.ack, session=session))
            case CloseSession():
                session = self._participant(command.agent_id)
                now = self.context.now()
                session.close(command.agent_id, now)
                self.stage(session)
                return self.answer(command.ticket, 200, {"session": session_document(session)}, now)
            case ExpireSession():
                return await self._expire_if_due()
            case _:
                assert_never(command)

    # -- commands -----------------------------------------------------------------------

    async def _open(self, command: OpenSession) -> Reply:
        if command.recipient_agent_id == command.initiator_agent_id:
            raise InvalidSessionRecipient()
        assert self.session is None, "session ids are fresh"
        recipient = await self.context.identities.agent(command.recipient_agent_id)
        if recipient is None:
            raise RecipientNotFound()
        self.session = Session(
            session_id=self.session_id,
            initiator_agent_id=command.initiator_agent_id,
            initiator_account_id=command.initiator_account_id,
            recipient_agent_id=command.recipient_agent_id,
            recipient_account_id=recipient.account_id,
            opening_message_id=new_id("msg"),
            at=self.context.now(),
        )
        try:
            return await self._lend(
                SendMessage(
                    command.recipient_agent_id,
                    command.initiator_agent_id,
                    command.initiator_account_id,
                    command.payload,
                    command.ticket,
                    self.session,
                )
            )
        except AtpError:
            self.session = None  # refused or crashed: the session never existed
            raise

    async def _expire_if_due(self) -> Reply:
        session = self.session
        if session is None or session.status != "pending":
            return Reply(200, {"expired": False})
        if self._opening_expires_at(session) > self.context.now():
            return Reply(200, {"expired": False})
        await self._lend(ExpireOpening(session.recipient_agent_id, session))
        return Reply(200, {"expired": True})

    # -- lending ------------------------------------------------------------------------

    async def _lend(self, command: Command) -> Reply:
        """Ask the mailbox that stages this session's next events with its own."""
        try:
            return await self.context.ask(command)
        except UnexpectedError:
            # The mailbox's batch did not commit: forget whatever it did to the session.
            await self.rehydrate()
            raise

    # -- helpers ------------------------------------------------------------------------

    def _participant(self, agent_id: str) -> Session:
        """The session, if ``agent_id`` takes part in it.

        Raises:
            NotFound: no such session, or not a participant.
        """
        if self.session is None:
            raise NotFound("session")
        self.session.counterparty(agent_id)
        return self.session

    def _opening_expires_at(self, session: Session) -> datetime:
        return session.created_at + timedelta(seconds=self.context.settings.message_ttl)

    # -- deadlines ----------------------------------------------------------------------

    def next_deadline(self) -> datetime | None:
        if self.session is None or self.session.status != "pending":
            return None
        return self._opening_expires_at(self.session)

    def deadline_command(self) -> SessionCommand:
        return ExpireSession(self.session_id)

    def keep_running_for(self) -> float:
        return self.context.settings.sweep_horizon
