"""The webhook half of a Message: its push delivery, attempts and dead letters.

``Message`` derives from this class, so one aggregate stays the consistency boundary
for everything that happens to a message (polling and webhook share the single
active lease, contract §4.6); the split only keeps each module readable. Methods
here rely on ``Message``'s state: its deliveries, statuses and expiry.

The events here mutate through their own ``apply`` and are triggered as
``type(self).<Event>``: eventsourcing redefines a base class's events on each
subclass, and this way the subclass's copy is the one stored, so every topic reads
``Message.<Event>`` like the rest of the message's events.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from eventsourcing.domain import Aggregate

from atp.domain._delivery import (
    AttemptResult,
    Delivery,
    RetryPolicy,
    classify_attempt,
    new_delivery,
)
from atp.domain._message_replay import MessageReplay
from atp.errors import (
    MessageExpired,
    NotDeadLettered,
    NotFound,
    StaleDeliveryClaim,
    WebhookEndpointInactive,
)

__all__ = ["MessageWebhook"]


class MessageWebhook(MessageReplay):
    """Webhook delivery and dead letters of a message (see ``Message``)."""

    message_id: str
    expires_at: datetime
    carrier_status: str
    ack_status: str | None
    deliveries: list[Delivery]
    dead_lettered_at: datetime | None

    class WebhookDeliveryClaimed(Aggregate.Event):
        """An attempt took the webhook delivery's lease (the single active lease, §4.6)."""

        delivery_id: str
        claim_token: str
        attempt_number: int
        leased_until: datetime
        at: datetime

        def apply(self, aggregate: Any) -> None:
            delivery = aggregate.delivery(self.delivery_id)
            delivery["status"] = "leased"
            delivery["claim_token"] = self.claim_token
            delivery["claimed_at"] = self.at
            delivery["leased_until"] = self.leased_until

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

        def apply(self, aggregate: Any) -> None:
            delivery = aggregate.delivery(self.delivery_id)
            delivery["attempts"].append(
                {
                    "id": self.attempt_id,
                    "attempt_number": self.attempt_number,
                    "response_status": self.response_status,
                    "error": self.error,
                    "result": self.result,
                    "next_attempt_at": self.next_attempt_at,
                    "request_url": self.request_url,
                    "created_at": self.at,
                }
            )
            _release_claim(delivery)
            delivery["status"] = self.result
            delivery["attempt_count"] = self.attempt_number
            delivery["next_attempt_at"] = self.next_attempt_at
            delivery["last_error"] = self.error
            if self.result == "delivered":
                delivery["delivered_at"] = self.at
                if aggregate.carrier_status in ("queued", "delivery_failed"):
                    aggregate.carrier_status = "delivered"
            elif self.result == "failed":
                aggregate.park(self.at)

    class WebhookDeliveryEnded(Aggregate.Event):
        """The webhook delivery ended without an attempt (ACKed, expired, endpoint gone)."""

        delivery_id: str
        reason: str
        at: datetime

        def apply(self, aggregate: Any) -> None:
            delivery = aggregate.delivery(self.delivery_id)
            _release_claim(delivery)
            delivery["status"] = "failed"
            delivery["next_attempt_at"] = None
            delivery["last_error"] = self.reason
            if self.reason == WebhookEndpointInactive.code:
                aggregate.park(self.at)

    class DeadLetterRedriven(Aggregate.Event):
        """The recipient asked for another webhook delivery of a dead letter."""

        delivery_id: str
        max_attempts: int
        at: datetime

        def apply(self, aggregate: Any) -> None:
            aggregate.deliveries.append(
                new_delivery(self.delivery_id, "webhook", self.at, max_attempts=self.max_attempts)
            )
            aggregate.carrier_status = "queued"
            aggregate.dead_lettered_at = None

    class DeadLetterReleased(Aggregate.Event):
        """The recipient moved a dead letter to its inbox, to be claimed by polling."""

        at: datetime

        def apply(self, aggregate: Any) -> None:
            aggregate.carrier_status = "queued"
            aggregate.dead_lettered_at = None

    # -- webhook delivery (contract §4.1, §5.4) -----------------------------------------

    def pending_webhook(self) -> Delivery | None:
        """The webhook delivery still to be tried (scheduled, or leased to an attempt)."""
        for delivery in reversed(self.deliveries):
            if delivery["mode"] == "webhook":
                pending = delivery["status"] in ("retry_scheduled", "leased")
                return delivery if pending else None
        return None

    def webhook_due_at(self) -> datetime | None:
        """When the pending webhook delivery may next be claimed: its retry time, or the
        end of an attempt's lease (an attempt lost in a crash is retried after it)."""
        delivery = self.pending_webhook()
        if delivery is None:
            return None
        if delivery["status"] == "leased":
            return delivery["leased_until"]
        return delivery["next_attempt_at"] or delivery["created_at"]

    def webhook_end_reason(self, endpoint_active: bool, now: datetime) -> str | None:
        """Why the pending webhook delivery must end without an attempt, if it must."""
        if self.ack_status is not None:
            return "message_acked"
        if self.expires_at <= now or self.carrier_status == "expired":
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
        attempt_number = delivery["attempt_count"] + 1
        leased_until = now + timedelta(seconds=lease_seconds)
        self.trigger_event(
            type(self).WebhookDeliveryClaimed,
            delivery_id=delivery["id"],
            claim_token=claim_token,
            attempt_number=attempt_number,
            leased_until=leased_until,
            at=now,
        )
        return attempt_number

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
        """Record how an attempt ended and decide what comes next (contract §5.4).

        A retry is scheduled only while attempts remain and it would start before the
        message expires; otherwise the delivery fails and the message is parked as a
        dead letter (unless it was already handed out).

        Raises:
            StaleDeliveryClaim: the claim is not the delivery's current one; nothing recorded.
        """
        delivery = self.pending_webhook()
        if delivery is None or delivery["claim_token"] != claim_token:
            raise StaleDeliveryClaim()
        if error == WebhookEndpointInactive.code:  # no attempt was made (contract §5.1)
            self.end_webhook(error, now)
            return "failed"
        attempt_number = delivery["attempt_count"] + 1
        verdict = classify_attempt(response_status, error)
        result: AttemptResult = "failed"
        next_attempt_at = None
        if verdict == "delivered":
            result = "delivered"
        elif verdict == "retry" and attempt_number < (delivery["max_attempts"] or 0):
            candidate = policy.next_attempt_at(attempt_number, retry_after, now)
            if candidate < self.expires_at:
                result, next_attempt_at = "retry_scheduled", candidate
        self.trigger_event(
            type(self).WebhookAttemptRecorded,
            delivery_id=delivery["id"],
            attempt_id=attempt_id,
            attempt_number=attempt_number,
            result=result,
            response_status=response_status,
            error=error,
            request_url=request_url,
            next_attempt_at=next_attempt_at,
            at=now,
        )
        return result

    def end_webhook(self, reason: str, now: datetime) -> None:
        """End the pending webhook delivery without an attempt (see ``webhook_end_reason``)."""
        delivery = self.pending_webhook()
        assert delivery is not None, "end_webhook() without a pending webhook delivery"
        self.trigger_event(
            type(self).WebhookDeliveryEnded, delivery_id=delivery["id"], reason=reason, at=now
        )

    def park(self, at: datetime) -> None:
        """(Events only.) A message nobody has been handed becomes a dead letter; one
        handed out by polling stays claimable there, so nothing is lost either way."""
        if self.carrier_status == "queued" and self.ack_status is None:
            self.carrier_status = "delivery_failed"
            self.dead_lettered_at = at

    # -- dead letters -----------------------------------------------------------------

    @property
    def dead_lettered(self) -> bool:
        """Parked after its webhook delivery failed: waiting for a redrive or a release."""
        return self.carrier_status == "delivery_failed" and self.ack_status is None

    def redrive(self, delivery_id: str, max_attempts: int, now: datetime) -> None:
        """Give a dead letter a fresh webhook delivery (attempts start from one).

        Raises:
            NotDeadLettered: the message is not parked.
            MessageExpired: the message expired while parked.
        """
        self._check_dead_letter(now)
        event = type(self).DeadLetterRedriven
        self.trigger_event(event, delivery_id=delivery_id, max_attempts=max_attempts, at=now)

    def release(self, now: datetime) -> None:
        """Move a dead letter to the inbox: queued again, claimable by polling only.

        Raises:
            NotDeadLettered: the message is not parked.
            MessageExpired: the message expired while parked.
        """
        self._check_dead_letter(now)
        self.trigger_event(type(self).DeadLetterReleased, at=now)

    def _check_dead_letter(self, now: datetime) -> None:
        if not self.dead_lettered:
            raise NotDeadLettered(f"message {self.message_id} is {self.carrier_status}")
        if self.expires_at <= now:
            raise MessageExpired(f"message {self.message_id} expired")

    # -- shared queries -------------------------------------------------------------

    def active_lease(self, now: datetime) -> Delivery | None:
        """The delivery holding the single active lease, if any (contract §4.6)."""
        for delivery in self.deliveries:
            until = delivery["leased_until"]
            if delivery["status"] == "leased" and until is not None and until > now:
                return delivery
        return None

    def delivery(self, delivery_id: str) -> Delivery:
        """A delivery of this message by id.

        Raises:
            NotFound: not a delivery of this message.
        """
        for delivery in self.deliveries:
            if delivery["id"] == delivery_id:
                return delivery
        raise NotFound(f"delivery {delivery_id}")


def _release_claim(delivery: Delivery) -> None:
    delivery["claim_token"] = None
    delivery["claimed_at"] = None
    delivery["leased_until"] = None
