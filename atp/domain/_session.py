"""Session: an ordered conversation between two agents (contract §6).

A session is requested with its opening message (sequence 1), accepted or rejected by
the recipient (or failed: an ACK ``failed`` or an opening that expired), and then
carries turns from either side, numbered without gaps. Closing is beyond the
reference: either participant may close an open (or still pending) session, and a
closed session takes no more turns.

Its session actor is its only writer. A turn's ``TurnAppended`` is committed together
with the turn's ``Message.Sent`` (the mailbox that creates the message stages both), so
a sequence number is never taken without its message, nor a message sent without one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from atp.domain._ids import aggregate_id
from atp.errors import InvalidAckTransition, NotFound, SessionNotOpen

__all__ = ["STATUS_AFTER", "Session", "SessionStatus"]

SessionStatus = Literal["pending", "open", "rejected", "failed", "closed"]


class Session(Aggregate):
    """A session between an initiator and a recipient agent."""

    class Requested(Aggregate.Created):
        session_id: str
        initiator_agent_id: str
        initiator_account_id: str
        recipient_agent_id: str
        recipient_account_id: str
        opening_message_id: str
        at: datetime

    class TurnAppended(Aggregate.Event):
        message_id: str
        sequence: int

    class Accepted(Aggregate.Event):
        at: datetime

    class Rejected(Aggregate.Event):
        at: datetime

    class Failed(Aggregate.Event):
        at: datetime

    class Closed(Aggregate.Event):
        by_agent_id: str
        at: datetime

    @staticmethod
    def create_id(session_id: str) -> UUID:
        return aggregate_id(session_id)

    @event(Requested)
    def __init__(
        self,
        session_id: str,
        initiator_agent_id: str,
        initiator_account_id: str,
        recipient_agent_id: str,
        recipient_account_id: str,
        opening_message_id: str,
        at: datetime,
    ) -> None:
        self.session_id = session_id
        self.initiator_agent_id = initiator_agent_id
        self.initiator_account_id = initiator_account_id
        self.recipient_agent_id = recipient_agent_id
        self.recipient_account_id = recipient_account_id
        self.opening_message_id = opening_message_id
        self.status: SessionStatus = "pending"
        self.last_sequence = 1
        self.created_at = at
        self.opened_at: datetime | None = None
        self.terminal_at: datetime | None = None
        self.closed_by: str | None = None

    # -- who ----------------------------------------------------------------------------

    def counterparty(self, agent_id: str) -> str:
        """The other participant.

        Raises:
            NotFound: ``agent_id`` is not a participant.
        """
        if agent_id == self.initiator_agent_id:
            return self.recipient_agent_id
        if agent_id == self.recipient_agent_id:
            return self.initiator_agent_id
        raise NotFound("session")

    # -- turns --------------------------------------------------------------------------

    @property
    def next_sequence(self) -> int:
        return self.last_sequence + 1

    def check_open(self) -> None:
        """Raises SessionNotOpen unless turns may be sent."""
        if self.status != "open":
            raise SessionNotOpen(f"session {self.session_id} is {self.status}")

    def append_turn(self, message_id: str) -> int:
        """Number the next turn; policy-rejected turns take a number too (§6.3).

        Raises:
            SessionNotOpen: the session is not open.
        """
        self.check_open()
        self._turn_appended(message_id, self.next_sequence)
        return self.last_sequence

    @event(TurnAppended)
    def _turn_appended(self, message_id: str, sequence: int) -> None:
        self.last_sequence = sequence

    # -- lifecycle ----------------------------------------------------------------------

    def check_pending(self) -> None:
        """Raises InvalidAckTransition unless the recipient may still answer (§1.12)."""
        if self.status != "pending":
            raise InvalidAckTransition(f"session {self.session_id} is {self.status}")

    @event(Accepted)
    def _accepted(self, at: datetime) -> None:
        self.status = "open"
        self.opened_at = at

    @event(Rejected)
    def _rejected(self, at: datetime) -> None:
        self.status = "rejected"
        self.terminal_at = at

    @event(Failed)
    def _failed(self, at: datetime) -> None:
        self.status = "failed"
        self.terminal_at = at

    def answer(self, ack_status: str, now: datetime) -> None:
        """Follow the recipient's ACK of the opening message (contract §6.1)."""
        self.check_pending()
        if ack_status == "accepted":
            self._accepted(now)
        elif ack_status == "rejected":
            self._rejected(now)
        elif ack_status == "failed":
            self._failed(now)
        else:
            raise InvalidAckTransition("a pending session cannot be completed")

    def refuse(self, now: datetime) -> None:
        """The recipient's policy blocks the initiator: rejected at once."""
        self._rejected(now)

    def expire(self, now: datetime) -> None:
        """The opening message expired before an answer: the session failed."""
        self.check_pending()
        self._failed(now)

    def close(self, by_agent_id: str, now: datetime) -> None:
        """Either participant ends a pending or open session.

        Raises:
            NotFound: not a participant.
            SessionNotOpen: already rejected, failed or closed.
        """
        self.counterparty(by_agent_id)
        if self.status not in ("pending", "open"):
            raise SessionNotOpen(f"session {self.session_id} is {self.status}")
        self._closed(by_agent_id, now)

    @event(Closed)
    def _closed(self, by_agent_id: str, at: datetime) -> None:
        self.status = "closed"
        self.closed_by = by_agent_id
        self.terminal_at = at


# The session's status after each lifecycle event (read by the views and the stream).
STATUS_AFTER: dict[type, SessionStatus] = {
    Session.Accepted: "open",
    Session.Rejected: "rejected",
    Session.Failed: "failed",
    Session.Closed: "closed",
}
