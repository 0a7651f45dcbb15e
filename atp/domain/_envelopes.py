"""AmtpEnvelope: one AMTP message and the carrier's deliveries of it, one per recipient.

An AMTP message may name many recipients. Each local recipient is sent an ordinary
``Message`` (its own delivery, lease, ACK and history); the recipients at each other
domain share an ``AmtpRelay`` to that domain's gateway. The envelope keeps the AMTP
message as accepted and which ``Message`` or relay carries it to whom, so the AMTP
status of the whole is a read of the envelope and of those. A recipient the carrier
could not hand the message to is kept with its error.

The envelope also keeps what the sender's webhooks were told of the message
(``AmtpWebhook``): each notice once recorded, and when nothing more is owed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, TypedDict
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from atp.domain._ids import aggregate_id

__all__ = ["AmtpEnvelope", "EnvelopeRecipient", "NoticeResult"]

NoticeResult = Literal["delivered", "abandoned"]


class EnvelopeRecipient(TypedDict):
    """One recipient of the message and what carries it there."""

    address: str
    message_id: str | None  # the local Message, if the carrier queued one
    agent_id: str | None  # the local agent it went to
    account_id: str | None  # and that agent's account
    relay_id: str | None  # the relay carrying it to another domain's gateway (AmtpRelay)
    error_code: str | None  # why neither carries it (an AMTP §13 code)
    error_message: str | None


class AmtpEnvelope(Aggregate):
    """An AMTP message as its gateway accepted it."""

    class Accepted(Aggregate.Created):
        message_id: str
        sender_agent_id: str
        sender_account_id: str
        document: dict[str, Any]  # the AMTP message as kept (atp.amtp.parse_message)
        recipients: list[EnvelopeRecipient]
        at: datetime
        authenticated: bool = True  # False: unsigned, from another domain's gateway

    class NoticeRecorded(Aggregate.Event):
        """A notice to a webhook ended: taken (a 2xx answer), or abandoned after its
        attempts."""

        webhook_id: str
        address: str
        event: str  # a NoticeEvent
        result: NoticeResult
        attempts: int
        response_status: int | None
        error: str | None
        at: datetime

    class NoticesSettled(Aggregate.Event):
        """Every recipient delivered or failed, and every webhook told: none is owed."""

        at: datetime

    @staticmethod
    def create_id(message_id: str) -> UUID:
        return aggregate_id(f"amtp:{message_id}")

    @classmethod
    def accept(
        cls,
        message_id: str,
        sender_agent_id: str,
        sender_account_id: str,
        document: dict[str, Any],
        recipients: list[EnvelopeRecipient],
        at: datetime,
        authenticated: bool = True,
    ) -> AmtpEnvelope:
        return cls._create(
            cls.Accepted,
            id=cls.create_id(message_id),
            message_id=message_id,
            sender_agent_id=sender_agent_id,
            sender_account_id=sender_account_id,
            document=document,
            recipients=recipients,
            at=at,
            authenticated=authenticated,
        )

    @event(Accepted)
    def __init__(
        self,
        message_id: str,
        sender_agent_id: str,
        sender_account_id: str,
        document: dict[str, Any],
        recipients: list[EnvelopeRecipient],
        at: datetime,
        authenticated: bool = True,
    ) -> None:
        self.message_id = message_id
        self.sender_agent_id = sender_agent_id
        self.sender_account_id = sender_account_id
        self.document = document
        self.recipients = recipients
        self.accepted_at = at
        self.authenticated = authenticated
        self.told: set[tuple[str, str, str]] = set()  # (webhook, address, event) recorded
        self.notices_settled = False

    def record_notice(
        self,
        webhook_id: str,
        address: str,
        event: str,
        result: NoticeResult,
        attempts: int,
        response_status: int | None,
        error: str | None,
        at: datetime,
    ) -> bool:
        """Record a notice's end; False, and nothing recorded, if it was recorded before
        (a notifier that lost its place after a restart)."""
        if (webhook_id, address, event) in self.told:
            return False
        self._notice_recorded(
            webhook_id, address, event, result, attempts, response_status, error, at
        )
        return True

    @event(NoticeRecorded)
    def _notice_recorded(
        self,
        webhook_id: str,
        address: str,
        event: str,
        result: str,
        attempts: int,
        response_status: int | None,
        error: str | None,
        at: datetime,
    ) -> None:
        self.told.add((webhook_id, address, event))

    def settle_notices(self, at: datetime) -> bool:
        """Note that no notice is owed any more; False if noted before."""
        if self.notices_settled:
            return False
        self._notices_settled(at)
        return True

    @event(NoticesSettled)
    def _notices_settled(self, at: datetime) -> None:
        self.notices_settled = True
