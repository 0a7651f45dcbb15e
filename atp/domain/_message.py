"""Message: one A2A payload from one agent to another, with its deliveries and ACKs.

A message is the consistency boundary for everything that happens to it: leases
(polling and webhook share the single-active-lease rule, contract §4.6), extensions,
ACKs, expiry and webhook attempts. Its recipient's mailbox actor is its only writer.
The webhook half (attempts, retries, dead letters) is the base class, in
``_message_webhook``, and the replays its base, in ``_message_replay``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from atp.domain._agent import Trust
from atp.domain._delivery import Ack, Delivery, new_delivery
from atp.domain._ids import aggregate_id
from atp.domain._message_webhook import MessageWebhook
from atp.errors import (
    DeliveryNotDelivered,
    InvalidAckTransition,
    InvalidLease,
    LeaseExpired,
    TerminalAckStatus,
)

__all__ = ["ACK_STATUSES", "TERMINAL_ACK_STATUSES", "AckStatus", "Message"]

AckStatus = Literal["accepted", "completed", "failed", "rejected"]
ACK_STATUSES: tuple[AckStatus, ...] = ("accepted", "completed", "failed", "rejected")
TERMINAL_ACK_STATUSES = frozenset({"completed", "failed", "rejected"})


class Message(MessageWebhook):
    """A message and everything that happened to it."""

    class Sent(Aggregate.Created):
        message_id: str
        sender_agent_id: str
        sender_account_id: str
        recipient_agent_id: str
        recipient_account_id: str
        trust: Trust
        payload: Any
        at: datetime
        expires_at: datetime
        session_id: str | None = None
        session_sequence: int | None = None

    class Rejected(Aggregate.Event):
        """The recipient's sender policy blocks the sender: terminal, never delivered."""

        at: datetime

    class WebhookDeliveryScheduled(Aggregate.Event):
        delivery_id: str
        max_attempts: int
        at: datetime

    class DeliveryLeased(Aggregate.Event):
        delivery_id: str
        leased_until: datetime
        at: datetime

    class LeaseExtended(Aggregate.Event):
        delivery_id: str
        leased_until: datetime

    class AckRecorded(Aggregate.Event):
        ack_id: str
        delivery_id: str
        status: AckStatus
        payload: Any
        at: datetime

    class Expired(Aggregate.Event):
        at: datetime

    @staticmethod
    def create_id(message_id: str) -> UUID:
        return aggregate_id(message_id)

    @classmethod
    def create(cls, message_id: str, **details: Any) -> Message:
        """``Message(message_id=..., **details)`` at two thirds of the cost (one is made
        for every send): the metaclass's argument coercion is skipped."""
        return cls._create(cls.Sent, id=cls.create_id(message_id), message_id=message_id, **details)

    @event(Sent)
    def __init__(
        self,
        message_id: str,
        sender_agent_id: str,
        sender_account_id: str,
        recipient_agent_id: str,
        recipient_account_id: str,
        trust: Trust,
        payload: Any,
        at: datetime,
        expires_at: datetime,
        session_id: str | None = None,
        session_sequence: int | None = None,
    ) -> None:
        self.message_id = message_id
        self.sender_agent_id = sender_agent_id
        self.sender_account_id = sender_account_id
        self.recipient_agent_id = recipient_agent_id
        self.recipient_account_id = recipient_account_id
        self.trust = trust
        self.payload = payload
        self.created_at = at
        self.expires_at = expires_at
        self.carrier_status = "queued"
        self.ack_status: AckStatus | None = None
        self.terminal_at: datetime | None = None
        self.deliveries: list[Delivery] = []
        self.acks: list[Ack] = []
        self.dead_lettered_at: datetime | None = None
        self.session_id = session_id
        self.session_sequence = session_sequence
        self.replays = {}

    # -- intake -----------------------------------------------------------------------

    @event(Rejected)
    def reject(self, at: datetime) -> None:
        """Record that the recipient's policy blocked the sender."""
        self.carrier_status = "rejected"
        self.terminal_at = at

    @event(WebhookDeliveryScheduled)
    def schedule_webhook(self, delivery_id: str, max_attempts: int, at: datetime) -> None:
        """Open the webhook delivery, due now (the dispatcher picks it up)."""
        self.deliveries.append(new_delivery(delivery_id, "webhook", at, max_attempts=max_attempts))

    # -- polling ----------------------------------------------------------------------

    def claimable(self, now: datetime) -> bool:
        """Whether an inbox claim may hand this message out now (contract §4.2, rules 2-6)."""
        return (
            self.carrier_status in ("queued", "delivered")
            and self.ack_status is None
            and self.expires_at > now
            and self.active_lease(now) is None
            and not any(
                d["mode"] == "webhook" and d["status"] == "delivered" for d in self.deliveries
            )
        )

    def lease(self, delivery_id: str, lease_seconds: int, now: datetime) -> Delivery:
        """Hand the message out on a new polling delivery.

        Inbox claims check ``claimable`` first; a session answer also leases an opening
        that polling would not hand out (parked, say), to record the answer on.

        Raises:
            InvalidLease: the lease would end after the last representable moment.
        """
        assert self.active_lease(now) is None, "lease() under another active lease"
        self._delivery_leased(delivery_id, _lease_end(now, lease_seconds), now)
        return self.deliveries[-1]

    @event(DeliveryLeased)
    def _delivery_leased(self, delivery_id: str, leased_until: datetime, at: datetime) -> None:
        self.deliveries.append(new_delivery(delivery_id, "polling", at, leased_until=leased_until))
        self.carrier_status = "delivered"

    def extend(self, delivery_id: str, lease_seconds: int, now: datetime) -> Delivery:
        """Push a polling lease further, from its current end (contract §1.18).

        Raises:
            NotFound: no such delivery on this message.
            InvalidLease: not an active polling lease (webhook, or already ACKed), or
                the lease would end after the last representable moment.
            LeaseExpired: the lease has already lapsed.
        """
        delivery = self.delivery(delivery_id)
        until = delivery["leased_until"]
        if delivery["mode"] != "polling" or delivery["status"] != "leased" or until is None:
            raise InvalidLease(f"delivery {delivery_id} is not a leased polling delivery")
        if until <= now:
            raise LeaseExpired(f"delivery {delivery_id} lease ended")
        self._lease_extended(delivery_id, _lease_end(until, lease_seconds))
        return delivery

    @event(LeaseExtended)
    def _lease_extended(self, delivery_id: str, leased_until: datetime) -> None:
        self.delivery(delivery_id)["leased_until"] = leased_until

    # -- ACKs -------------------------------------------------------------------------

    def ack(
        self, ack_id: str, delivery_id: str, status: AckStatus, payload: Any, now: datetime
    ) -> Ack:
        """Record the recipient's ACK (contract §4.4): lease first, then the transition.

        Raises:
            NotFound: no such delivery on this message.
            DeliveryNotDelivered: a webhook delivery that has not been delivered.
            LeaseExpired: a polling delivery whose lease has lapsed.
            InvalidAckTransition: accepted twice, or rejected after accepted.
            TerminalAckStatus: the message already has a terminal ACK.
        """
        self.check_ackable(delivery_id, now)
        self.check_ack_transition(status)
        self._ack_recorded(ack_id, delivery_id, status, payload, now)
        return self.acks[-1]

    def check_ackable(self, delivery_id: str, now: datetime) -> None:
        """The delivery/lease precondition of an ACK (checked before the transition)."""
        delivery = self.delivery(delivery_id)
        if self.ack_status == "accepted":
            return
        if delivery["mode"] == "webhook":
            if delivery["status"] != "delivered":
                raise DeliveryNotDelivered(f"webhook delivery {delivery_id} not delivered")
            return
        until = delivery["leased_until"]
        if until is None or until <= now:
            raise LeaseExpired(f"delivery {delivery_id} lease ended")

    def check_ack_transition(self, status: AckStatus) -> None:
        """The ACK transition table of contract §4.4, and the opening-message overlay:
        a session's opening is answered once (accepted, rejected or failed), never
        completed."""
        if self.ack_status in TERMINAL_ACK_STATUSES:
            raise TerminalAckStatus(f"message already {self.ack_status}")
        if self.ack_status == "accepted" and status in ("accepted", "rejected"):
            raise InvalidAckTransition(f"accepted -> {status}")
        if self.opens_session and (self.ack_status is not None or status == "completed"):
            raise InvalidAckTransition(f"session opening: {self.ack_status} -> {status}")

    @event(AckRecorded)
    def _ack_recorded(
        self, ack_id: str, delivery_id: str, status: AckStatus, payload: Any, at: datetime
    ) -> None:
        delivery = self.delivery(delivery_id)
        if delivery["mode"] == "polling" and delivery["status"] == "leased":
            delivery["status"] = "delivered"
            delivery["delivered_at"] = at
        self.acks.append(
            {
                "id": ack_id,
                "delivery_id": delivery_id,
                "status": status,
                "payload": payload,
                "created_at": at,
            }
        )
        self.ack_status = status
        if self.carrier_status in ("queued", "delivery_failed"):
            self.carrier_status = "delivered"
        if status in TERMINAL_ACK_STATUSES:
            self.terminal_at = at

    # -- expiry -----------------------------------------------------------------------

    def expire_if_due(self, now: datetime) -> bool:
        """Expire a message nobody took before ``expires_at``; True if it did.

        A message already handed out (``delivered``) keeps that status, as in the
        contract; it only stops being claimable.
        """
        if self.expires_at > now or self.carrier_status != "queued" or self.ack_status:
            return False
        self._expired(now)
        return True

    @event(Expired)
    def _expired(self, at: datetime) -> None:
        self.carrier_status = "expired"
        self.terminal_at = at

    # -- queries ----------------------------------------------------------------------

    def outstanding(self, now: datetime) -> bool:
        """Whether this message holds back later messages of its session (§6.4): still to
        be handed out, and not under a polling lease or delivered by a webhook."""
        if self.carrier_status not in ("queued", "delivered") or self.ack_status is not None:
            return False
        if self.expires_at <= now:
            return False
        for delivery in self.deliveries:
            leased = delivery["status"] == "leased" and (delivery["leased_until"] or now) > now
            if delivery["mode"] == "polling" and leased:
                return False
            if delivery["mode"] == "webhook" and delivery["status"] == "delivered":
                return False
        return True

    def ackable_delivery(self, now: datetime) -> Delivery | None:
        """A delivery an answer can be recorded on: an active polling lease, or a
        webhook delivery that was delivered."""
        for delivery in self.deliveries:
            if delivery["mode"] == "webhook" and delivery["status"] == "delivered":
                return delivery
            until = delivery["leased_until"]
            polling = delivery["mode"] == "polling" and delivery["status"] == "leased"
            if polling and until is not None and until > now:
                return delivery
        return None

    def expire_opening(self, now: datetime) -> None:
        """A session's opening that nobody answered in time expires, handed out or not."""
        if self.ack_status is None and self.carrier_status in ("queued", "delivered"):
            self._expired(now)

    @property
    def opens_session(self) -> bool:
        """The opening message of a session (sequence 1): its ACK answers the session."""
        return self.session_id is not None and self.session_sequence == 1

    @property
    def is_open(self) -> bool:
        """Still the mailbox's business: not terminal, not ACKed and not delivered by a
        webhook (after a 2xx nothing is redelivered; a late ACK loads it again)."""
        return (
            self.carrier_status in ("queued", "delivered")
            and self.ack_status is None
            and not any(
                d["mode"] == "webhook" and d["status"] == "delivered" for d in self.deliveries
            )
        )


def _lease_end(start: datetime, lease_seconds: int) -> datetime:
    """``start`` plus the lease. The contract sets no upper bound; the calendar does
    (year 9999), and a lease past it is refused rather than failing the request.

    Raises:
        InvalidLease: the lease would end after the last representable moment.
    """
    try:
        return start + timedelta(seconds=lease_seconds)
    except OverflowError:
        raise InvalidLease("the lease would end after the year 9999") from None
