"""Message: one A2A payload from one agent to another, with its deliveries and ACKs.

A message is the consistency boundary for everything that happens to it: leases
(polling and webhook share the single-active-lease rule, contract §4.6), extensions,
ACKs, expiry, webhook attempts, dead letters and replays. Its recipient's mailbox actor
is its only writer. What a delivery is and does, and the rules that decide an attempt's
outcome, are in ``_delivery``; the statuses in ``_statuses``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal
from uuid import UUID

import attrs
from eventsourcing.domain import Aggregate, event
from eventsourcing.domain import Snapshot as AggregateSnapshot

from atp.domain._agent import Trust
from atp.domain._delivery import (
    Ack,
    AttemptResult,
    Delivery,
    ReplayAttempt,
    RetryPolicy,
    WebhookAttempt,
)
from atp.domain._ids import aggregate_id
from atp.domain._replay import ReplayTarget
from atp.domain._statuses import (
    TERMINAL_ACK_STATUSES,
    AckStatus,
    CarrierStatus,
    DeliveryMode,
    DeliveryStatus,
)
from atp.errors import (
    DeliveryNotDelivered,
    InvalidAckTransition,
    InvalidLease,
    LeaseExpired,
    MessageExpired,
    MessageNotCancelable,
    MessageNotDelivered,
    NotDeadLettered,
    NotFound,
    StaleDeliveryClaim,
    TerminalAckStatus,
    WebhookEndpointInactive,
)

__all__ = ["Message"]

_QUEUED, _DELIVERED = CarrierStatus.QUEUED, CarrierStatus.DELIVERED
# Tuples, not sets: ``in`` finds a member by identity first, and an Enum's hash is a
# Python call (the claim path asks these of every open message).
_IN_PLAY = (_QUEUED, _DELIVERED)  # handed out or not, neither terminal nor parked
_UNDELIVERED = (_QUEUED, CarrierStatus.DELIVERY_FAILED)  # a delivery changes these
_NOT_AFTER_ACCEPTED = (AckStatus.ACCEPTED, AckStatus.REJECTED)


class Message(Aggregate):
    """A message and everything that happened to it.

    Its state holds typed records and enums (``class_version`` 2); its snapshots write
    them as JSON holds them, and ``Snapshot`` and ``upcast_v1_v2`` read them back.
    """

    class_version = 2

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

    class LeaseReleased(Aggregate.Event):
        """A streaming consumer let go of a lease it held: it ends now, not at its end."""

        delivery_id: str
        leased_until: datetime  # the moment of release

    class AckRecorded(Aggregate.Event):
        ack_id: str
        delivery_id: str
        status: str  # an AckStatus
        payload: Any
        at: datetime

    class Expired(Aggregate.Event):
        at: datetime

    class Canceled(Aggregate.Event):
        """Its sender withdrew it before anyone was handed it (A2A ``CancelTask``)."""

        at: datetime

    class WebhookDeliveryClaimed(Aggregate.Event):
        """An attempt took the webhook delivery's lease (the single active lease, §4.6)."""

        delivery_id: str
        claim_token: str
        attempt_number: int
        leased_until: datetime
        at: datetime

    class WebhookAttemptRecorded(Aggregate.Event):
        """An attempt ended; ``result`` and ``next_attempt_at`` are decided, not re-derived."""

        delivery_id: str
        attempt_id: str
        attempt_number: int
        result: AttemptResult
        response_status: int | None
        error: str | None
        request_url: str | None
        next_attempt_at: datetime | None
        at: datetime

    class WebhookDeliveryEnded(Aggregate.Event):
        """The webhook delivery ended without an attempt (ACKed, expired, endpoint gone)."""

        delivery_id: str
        reason: str
        at: datetime

    class DeadLetterRedriven(Aggregate.Event):
        """The recipient asked for another webhook delivery of a dead letter."""

        delivery_id: str
        max_attempts: int
        at: datetime

    class DeadLetterReleased(Aggregate.Event):
        """The recipient moved a dead letter to its inbox, to be claimed by polling."""

        at: datetime

    class ReplayStarted(Aggregate.Event):
        """A replay took the message: a push is about to be made, or (inbox) the message
        waits for a claim."""

        replay_id: str
        message_id: str  # for the views, which cannot read it from the aggregate's id
        target: ReplayTarget
        delivery_id: str
        at: datetime

    class ReplayAttemptRecorded(Aggregate.Event):
        """How the replay's attempt ended: the push's answer, or the inbox claim that
        handed the message out (``delivered``); ``interrupted`` if the carrier stopped
        while a push was in flight (it is never made twice)."""

        replay_id: str
        result: Literal["delivered", "failed"]
        response_status: int | None
        error: str | None
        request_url: str | None
        at: datetime

    class Snapshot(AggregateSnapshot):
        """A message's state as JSON holds it: records as dicts, enums as strings."""

        @classmethod
        def take(cls, aggregate: Any) -> Any:
            snapshot = super().take(aggregate)
            state = snapshot.state
            for name in ("deliveries", "acks"):
                state[name] = [attrs.asdict(r) for r in state[name]]
            state["replays"] = {k: attrs.asdict(r) for k, r in state["replays"].items()}
            return snapshot

        def mutate(self, _: None) -> Any:
            message = super().mutate(_)
            _typed_state(vars(message))
            return message

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        """A version 1 snapshot (eventsourcing's ``Snapshot``, of a state that held
        dicts and strings) is read as ``Snapshot`` reads its own."""
        _typed_state(state)

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
        self.carrier_status = CarrierStatus.QUEUED
        self.ack_status: AckStatus | None = None
        self.terminal_at: datetime | None = None
        self.deliveries: list[Delivery] = []
        self.acks: list[Ack] = []
        self.dead_lettered_at: datetime | None = None
        self.session_id = session_id
        self.session_sequence = session_sequence
        self.replays: dict[str, ReplayAttempt] = {}

    # -- intake -----------------------------------------------------------------------

    @event(Rejected)
    def reject(self, at: datetime) -> None:
        """Record that the recipient's policy blocked the sender."""
        self.carrier_status = CarrierStatus.REJECTED
        self.terminal_at = at

    @event(WebhookDeliveryScheduled)
    def schedule_webhook(self, delivery_id: str, max_attempts: int, at: datetime) -> None:
        """Open the webhook delivery, due now (the dispatcher picks it up)."""
        self.deliveries.append(Delivery.webhook(delivery_id, at, max_attempts))

    # -- polling ----------------------------------------------------------------------

    def claimable(self, now: datetime) -> bool:
        """Whether an inbox claim may hand this message out now (contract §4.2, rules 2-6)."""
        if self.carrier_status not in _IN_PLAY or self.ack_status is not None:
            return False
        if self.expires_at <= now:
            return False
        for delivery in self.deliveries:
            if delivery.holds_lease(now) or delivery.pushed:
                return False
        return True

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
        self.deliveries.append(Delivery.polling(delivery_id, at, leased_until))
        self.carrier_status = _DELIVERED

    def extend(self, delivery_id: str, lease_seconds: int, now: datetime) -> Delivery:
        """Push a polling lease further, from its current end (contract §1.18).

        Raises:
            NotFound: no such delivery on this message.
            InvalidLease: not an active polling lease (webhook, or already ACKed), or
                the lease would end after the last representable moment.
            LeaseExpired: the lease has already lapsed.
        """
        delivery = self.delivery(delivery_id)
        until = delivery.leased_until
        polling = delivery.mode is DeliveryMode.POLLING
        if not polling or delivery.status is not DeliveryStatus.LEASED or until is None:
            raise InvalidLease(f"delivery {delivery_id} is not a leased polling delivery")
        if until <= now:
            raise LeaseExpired(f"delivery {delivery_id} lease ended")
        self._lease_extended(delivery_id, _lease_end(until, lease_seconds))
        return delivery

    @event(LeaseExtended)
    def _lease_extended(self, delivery_id: str, leased_until: datetime) -> None:
        self.delivery(delivery_id).extend(leased_until)

    def renew_lease(self, delivery_id: str, lease_seconds: int, now: datetime) -> bool:
        """Make an active polling lease end ``lease_seconds`` from now once less than
        two thirds of that is left (a streaming consumer holds its leases so, without
        recording a renewal each time it looks); whether it was renewed.

        Raises:
            NotFound: no such delivery on this message.
            InvalidLease: not an active polling lease, or one ending past the calendar.
        """
        delivery = self._active_polling(delivery_id, now)
        until = _lease_end(now, lease_seconds)
        left = delivery.leased_until - now if delivery.leased_until is not None else None
        if left is not None and left * 3 >= timedelta(seconds=lease_seconds) * 2:
            return False
        self._lease_extended(delivery_id, until)
        return True

    def release_lease(self, delivery_id: str, now: datetime) -> None:
        """End an active polling lease now: the message can be claimed again at once.

        Raises:
            NotFound: no such delivery on this message.
            InvalidLease: not an active polling lease.
        """
        self._active_polling(delivery_id, now)
        self._lease_released(delivery_id, now)

    @event(LeaseReleased)
    def _lease_released(self, delivery_id: str, leased_until: datetime) -> None:
        self.delivery(delivery_id).extend(leased_until)

    def _active_polling(self, delivery_id: str, now: datetime) -> Delivery:
        delivery = self.delivery(delivery_id)
        if not delivery.polling_lease(now) or self.ack_status is not None:
            raise InvalidLease(f"delivery {delivery_id} holds no active polling lease")
        return delivery

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

    def ack_pushed(self, ack_id: str, status: AckStatus, payload: Any, now: datetime) -> Ack:
        """Record the answer of a recipient that answers its push (an A2A server) as the
        ACK of the webhook delivery that reached it."""
        pushed = next(d for d in reversed(self.deliveries) if d.pushed)
        return self.ack(ack_id, pushed.id, status, payload, now)

    def end_remote_task(self, ack_id: str, status: AckStatus, payload: Any, now: datetime) -> bool:
        """Record the end of the task an A2A recipient answered as going on (the ACK
        ``accepted``) as the next ACK; False if the message has moved on since. A
        rejection after acceptance, which the ACK table forbids, is recorded failed."""
        if self.ack_status is not AckStatus.ACCEPTED:
            return False
        status = AckStatus.FAILED if status is AckStatus.REJECTED else status
        self.ack_pushed(ack_id, status, payload, now)
        return True

    def check_ackable(self, delivery_id: str, now: datetime) -> None:
        """The delivery/lease precondition of an ACK (checked before the transition)."""
        delivery = self.delivery(delivery_id)
        if self.ack_status is AckStatus.ACCEPTED:
            return
        if delivery.mode is DeliveryMode.WEBHOOK:
            if delivery.status is not DeliveryStatus.DELIVERED:
                raise DeliveryNotDelivered(f"webhook delivery {delivery_id} not delivered")
            return
        until = delivery.leased_until
        if until is None or until <= now:
            raise LeaseExpired(f"delivery {delivery_id} lease ended")

    def check_ack_transition(self, status: AckStatus) -> None:
        """The ACK transition table of contract §4.4, and the opening-message overlay:
        a session's opening is answered once (accepted, rejected or failed), never
        completed."""
        if self.ack_status in TERMINAL_ACK_STATUSES:
            raise TerminalAckStatus(f"message already {self.ack_status}")
        if self.ack_status is AckStatus.ACCEPTED and status in _NOT_AFTER_ACCEPTED:
            raise InvalidAckTransition(f"accepted -> {status}")
        if self.opens_session and (self.ack_status is not None or status == AckStatus.COMPLETED):
            raise InvalidAckTransition(f"session opening: {self.ack_status} -> {status}")

    @event(AckRecorded)
    def _ack_recorded(
        self, ack_id: str, delivery_id: str, status: str, payload: Any, at: datetime
    ) -> None:
        self.delivery(delivery_id).acked(at)
        ack = Ack(ack_id, delivery_id, status, payload, at)  # status: made an AckStatus
        self.acks.append(ack)
        self.ack_status = ack.status
        if self.carrier_status in _UNDELIVERED:
            self.carrier_status = _DELIVERED
        if ack.status in TERMINAL_ACK_STATUSES:
            self.terminal_at = at

    # -- expiry -----------------------------------------------------------------------

    def expire_if_due(self, now: datetime) -> bool:
        """Expire a message nobody took before ``expires_at``; True if it did.

        A message already handed out (``delivered``) keeps that status, as in the
        contract; it only stops being claimable.
        """
        if self.expires_at > now or self.carrier_status is not _QUEUED or self.ack_status:
            return False
        self._expired(now)
        return True

    def expire_opening(self, now: datetime) -> None:
        """A session's opening that nobody answered in time expires, handed out or not."""
        if self.ack_status is None and self.carrier_status in _IN_PLAY:
            self._expired(now)

    @event(Expired)
    def _expired(self, at: datetime) -> None:
        self.carrier_status = CarrierStatus.EXPIRED
        self.terminal_at = at

    def cancel(self, sender_agent_id: str, now: datetime) -> bool:
        """Its sender withdraws a message nobody has been handed; False if it was
        withdrawn before.

        Raises:
            NotFound: ``sender_agent_id`` did not send it.
            MessageNotCancelable: it was handed out, scheduled for a push, answered or
                ended, or it is a session's (its turns keep their order).
        """
        if sender_agent_id != self.sender_agent_id:
            raise NotFound("message")
        if self.carrier_status is CarrierStatus.CANCELED:
            return False
        if (
            self.carrier_status is not _QUEUED
            or self.ack_status is not None
            or self.deliveries
            or self.session_id is not None
        ):
            raise MessageNotCancelable(f"message {self.message_id} is {self.carrier_status}")
        self._canceled(now)
        return True

    @event(Canceled)
    def _canceled(self, at: datetime) -> None:
        self.carrier_status = CarrierStatus.CANCELED
        self.terminal_at = at

    # -- webhook delivery (contract §4.1, §5.4) -----------------------------------------

    def pending_webhook(self) -> Delivery | None:
        """The webhook delivery still to be tried (scheduled, or leased to an attempt)."""
        for delivery in reversed(self.deliveries):
            if delivery.mode is DeliveryMode.WEBHOOK:
                return delivery if delivery.pending else None
        return None

    def webhook_due_at(self) -> datetime | None:
        """When the pending webhook delivery may next be claimed (``Delivery.due_at``)."""
        delivery = self.pending_webhook()
        return None if delivery is None else delivery.due_at()

    def webhook_end_reason(self, endpoint_active: bool, now: datetime) -> str | None:
        """Why the pending webhook delivery must end without an attempt, if it must."""
        if self.ack_status is not None:
            return "message_acked"
        if self.expires_at <= now or self.carrier_status is CarrierStatus.EXPIRED:
            return "message_expired"
        if not endpoint_active:
            return WebhookEndpointInactive.code
        return None

    def claim_webhook(self, claim_token: str, lease_seconds: float, now: datetime) -> int:
        """Lease the pending webhook delivery to an attempt; return the attempt number.

        A lease lost in a crash is reclaimed with the same attempt number: that attempt
        never finished, so it is not counted.
        """
        delivery = self.pending_webhook()
        assert delivery is not None, "claim_webhook() without a pending webhook delivery"
        assert self.active_lease(now) is None, "claim_webhook() under another active lease"
        attempt_number = delivery.attempt_count + 1
        leased_until = now + timedelta(seconds=lease_seconds)
        self._webhook_claimed(delivery.id, claim_token, attempt_number, leased_until, now)
        return attempt_number

    @event(WebhookDeliveryClaimed)
    def _webhook_claimed(
        self,
        delivery_id: str,
        claim_token: str,
        attempt_number: int,
        leased_until: datetime,
        at: datetime,
    ) -> None:
        self.delivery(delivery_id).claim(claim_token, leased_until, at)

    def finish_webhook_attempt(
        self,
        claim_token: str,
        attempt_id: str,
        response_status: int | None,
        error: str | None,
        retry_after: float | None,
        request_url: str | None,
        policy: RetryPolicy,
        now: datetime,
    ) -> AttemptResult:
        """Record how an attempt ended and decide what comes next (``RetryPolicy.outcome``):
        a delivery that fails parks the message as a dead letter (unless it was already
        handed out).

        Raises:
            StaleDeliveryClaim: the claim is not the delivery's current one; nothing recorded.
        """
        delivery = self.pending_webhook()
        if delivery is None or delivery.claim_token != claim_token:
            raise StaleDeliveryClaim()
        if error == WebhookEndpointInactive.code:  # no attempt was made (contract §5.1)
            self.end_webhook(error, now)
            return "failed"
        result, next_at = policy.outcome(
            delivery, response_status, error, retry_after, self.expires_at, now
        )
        number = delivery.attempt_count + 1
        self._webhook_attempt_recorded(
            delivery.id,
            attempt_id,
            number,
            result,
            response_status,
            error,
            request_url,
            next_at,
            now,
        )
        return result

    @event(WebhookAttemptRecorded)
    def _webhook_attempt_recorded(
        self,
        delivery_id: str,
        attempt_id: str,
        attempt_number: int,
        result: str,
        response_status: int | None,
        error: str | None,
        request_url: str | None,
        next_attempt_at: datetime | None,
        at: datetime,
    ) -> None:
        status = DeliveryStatus(result)
        attempt = WebhookAttempt(
            id=attempt_id,
            attempt_number=attempt_number,
            response_status=response_status,
            error=error,
            result=status,
            next_attempt_at=next_attempt_at,
            request_url=request_url,
            created_at=at,
        )
        self.delivery(delivery_id).record(attempt)
        if status is DeliveryStatus.DELIVERED:
            if self.carrier_status in _UNDELIVERED:
                self.carrier_status = _DELIVERED
        elif status is DeliveryStatus.FAILED:
            self._park(at)

    def end_webhook(self, reason: str, now: datetime) -> None:
        """End the pending webhook delivery without an attempt (see ``webhook_end_reason``)."""
        delivery = self.pending_webhook()
        assert delivery is not None, "end_webhook() without a pending webhook delivery"
        self._webhook_delivery_ended(delivery.id, reason, now)

    @event(WebhookDeliveryEnded)
    def _webhook_delivery_ended(self, delivery_id: str, reason: str, at: datetime) -> None:
        self.delivery(delivery_id).end(reason)
        if reason == WebhookEndpointInactive.code:
            self._park(at)

    def _park(self, at: datetime) -> None:
        """(Mutators only.) A message nobody has been handed becomes a dead letter; one
        handed out by polling stays claimable there, so nothing is lost either way."""
        if self.carrier_status is _QUEUED and self.ack_status is None:
            self.carrier_status = CarrierStatus.DELIVERY_FAILED
            self.dead_lettered_at = at

    # -- dead letters -----------------------------------------------------------------

    @property
    def dead_lettered(self) -> bool:
        """Parked after its webhook delivery failed: waiting for a redrive or a release."""
        return self.carrier_status is CarrierStatus.DELIVERY_FAILED and self.ack_status is None

    def redrive(self, delivery_id: str, max_attempts: int, now: datetime) -> None:
        """Give a dead letter a fresh webhook delivery (attempts start from one).

        Raises:
            NotDeadLettered: the message is not parked.
            MessageExpired: the message expired while parked.
        """
        self._check_dead_letter(now)
        self._dead_letter_redriven(delivery_id, max_attempts, now)

    @event(DeadLetterRedriven)
    def _dead_letter_redriven(self, delivery_id: str, max_attempts: int, at: datetime) -> None:
        self.deliveries.append(Delivery.webhook(delivery_id, at, max_attempts))
        self.carrier_status = _QUEUED
        self.dead_lettered_at = None

    def release(self, now: datetime) -> None:
        """Move a dead letter to the inbox: queued again, claimable by polling only.

        Raises:
            NotDeadLettered: the message is not parked.
            MessageExpired: the message expired while parked.
        """
        self._check_dead_letter(now)
        self._dead_letter_released(now)

    @event(DeadLetterReleased)
    def _dead_letter_released(self, at: datetime) -> None:
        self.carrier_status = _QUEUED
        self.dead_lettered_at = None

    def _check_dead_letter(self, now: datetime) -> None:
        if not self.dead_lettered:
            raise NotDeadLettered(f"message {self.message_id} is {self.carrier_status}")
        if self.expires_at <= now:
            raise MessageExpired(f"message {self.message_id} expired")

    # -- replays ------------------------------------------------------------------------

    def start_replay(self, replay_id: str, target: ReplayTarget, now: datetime) -> ReplayAttempt:
        """Take part in a replay once; a replay that took the message before gets its
        attempt as it stands (nothing new is recorded). The replay repeats the webhook
        delivery that got through, else the first webhook delivery, else the first
        polling lease; its id travels again, as ``webhook-id``.

        Raises:
            MessageNotDelivered: the message was never handed out: nothing to replay.
        """
        attempt = self.replays.get(replay_id)
        if attempt is not None:
            return attempt
        webhooks = [d for d in self.deliveries if d.mode is DeliveryMode.WEBHOOK]
        candidates = [d for d in webhooks if d.pushed] or webhooks or self.deliveries
        if not candidates:
            raise MessageNotDelivered()
        original = candidates[0]
        self._replay_started(replay_id, self.message_id, target, original.id, now)
        return self.replays[replay_id]

    @event(ReplayStarted)
    def _replay_started(
        self, replay_id: str, message_id: str, target: ReplayTarget, delivery_id: str, at: datetime
    ) -> None:
        self.replays[replay_id] = ReplayAttempt(replay_id, target, delivery_id, at)

    def record_replay(
        self,
        replay_id: str,
        response_status: int | None,
        error: str | None,
        request_url: str | None,
        now: datetime,
    ) -> ReplayAttempt:
        """Record the end of a pending replay attempt: delivered on a 2xx (or an inbox
        hand-out, which has neither status nor error), failed otherwise."""
        attempt = self.replays[replay_id]
        assert attempt.result is None, "record_replay() of an ended attempt"
        ok = error is None and (response_status is None or 200 <= response_status <= 299)
        result: Literal["delivered", "failed"] = "delivered" if ok else "failed"
        self._replay_attempt_recorded(replay_id, result, response_status, error, request_url, now)
        return attempt

    @event(ReplayAttemptRecorded)
    def _replay_attempt_recorded(
        self,
        replay_id: str,
        result: Literal["delivered", "failed"],
        response_status: int | None,
        error: str | None,
        request_url: str | None,
        at: datetime,
    ) -> None:
        attempt = self.replays[replay_id]
        attempt.result = result
        attempt.response_status = response_status
        attempt.error = error
        attempt.ended_at = at

    # -- queries ----------------------------------------------------------------------

    def outstanding(self, now: datetime) -> bool:
        """Whether this message holds back later messages of its session (§6.4): still to
        be handed out, and not under a polling lease or delivered by a webhook."""
        if self.carrier_status not in _IN_PLAY or self.ack_status is not None:
            return False
        if self.expires_at <= now:
            return False
        for delivery in self.deliveries:
            if delivery.polling_lease(now) or delivery.pushed:
                return False
        return True

    def ackable_delivery(self, now: datetime) -> Delivery | None:
        """A delivery an answer can be recorded on: an active polling lease, or a
        webhook delivery that was delivered."""
        for delivery in self.deliveries:
            if delivery.pushed or delivery.polling_lease(now):
                return delivery
        return None

    def take(self, delivery_id: str, lease_seconds: int, now: datetime) -> Delivery:
        """A delivery to answer this message on, for a recipient that names the message
        rather than claiming it (an AMTP inbox acknowledges by message id): the one
        that already allows an answer, else a new polling lease.

        Raises:
            NotFound: it cannot be handed out (ended, answered, or leased by a claim).
        """
        delivery = self.ackable_delivery(now)
        if delivery is not None and self.ack_status is None:
            return delivery
        if not self.claimable(now):
            raise NotFound("message")
        return self.lease(delivery_id, lease_seconds, now)

    def active_lease(self, now: datetime) -> Delivery | None:
        """The delivery holding the single active lease, if any (contract §4.6)."""
        for delivery in self.deliveries:
            if delivery.holds_lease(now):
                return delivery
        return None

    def delivery(self, delivery_id: str) -> Delivery:
        """A delivery of this message by id.

        Raises:
            NotFound: not a delivery of this message.
        """
        for delivery in self.deliveries:
            if delivery.id == delivery_id:
                return delivery
        raise NotFound(f"delivery {delivery_id}")

    @property
    def opens_session(self) -> bool:
        """The opening message of a session (sequence 1): its ACK answers the session."""
        return self.session_id is not None and self.session_sequence == 1

    @property
    def is_open(self) -> bool:
        """Still the mailbox's business: not terminal, not ACKed and not delivered by a
        webhook (after a 2xx nothing is redelivered; a late ACK loads it again)."""
        if self.carrier_status not in _IN_PLAY or self.ack_status is not None:
            return False
        for delivery in self.deliveries:  # noqa: SIM110 (no generator on the claim path)
            if delivery.pushed:
                return False
        return True


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


def _typed_state(state: dict[str, Any]) -> None:
    """A message's stored state, as JSON gives it back, typed again (in place)."""
    state["carrier_status"] = CarrierStatus(state["carrier_status"])
    status = state["ack_status"]
    state["ack_status"] = None if status is None else AckStatus(status)
    state["deliveries"] = [Delivery.from_state(d) for d in state["deliveries"]]
    state["acks"] = [Ack(**a) for a in state["acks"]]
    state["replays"] = {k: ReplayAttempt(**r) for k, r in state["replays"].items()}
