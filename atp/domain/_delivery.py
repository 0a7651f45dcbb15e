"""Deliveries, ACKs, replay attempts and the webhook retry rules (contract §4.1, §5.4).

A delivery is one hand-out of a message: a polling lease, or the message's webhook
delivery with its attempts. They live inside the Message aggregate, which changes them
only from its events' mutators; this module holds their shape, what each change does to
one, and the pure rules that decide what an attempt's outcome means, so the aggregate
records decisions and replay never re-decides.

Their status fields convert what they are given to the enum, so a record made from its
stored form (a snapshot's dict, where JSON has the enums as plain strings) is typed too.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

import attrs

from atp.domain._replay import ReplayTarget
from atp.domain._statuses import AckStatus, DeliveryMode, DeliveryStatus

__all__ = [
    "Ack",
    "AttemptResult",
    "Delivery",
    "ReplayAttempt",
    "RetryPolicy",
    "WebhookAttempt",
    "classify_attempt",
]

# The statuses a webhook attempt ends its delivery in (as stored in its event).
AttemptResult = Literal["delivered", "retry_scheduled", "failed"]

# Module-level names are found faster than an Enum class's members (the claim path).
_POLLING, _WEBHOOK = DeliveryMode.POLLING, DeliveryMode.WEBHOOK
_LEASED, _DELIVERED = DeliveryStatus.LEASED, DeliveryStatus.DELIVERED
_PENDING = (DeliveryStatus.RETRY_SCHEDULED, _LEASED)  # a tuple: an Enum's hash is slow

# Errors after which another try cannot help: the target is refused before connecting.
_PERMANENT_ERRORS = frozenset({"unsafe_webhook_url"})


@attrs.frozen
class WebhookAttempt:
    """One HTTP try of a webhook delivery, as contract §5.5 records it."""

    id: str
    attempt_number: int
    response_status: int | None
    error: str | None
    result: DeliveryStatus = attrs.field(converter=DeliveryStatus)
    next_attempt_at: datetime | None
    request_url: str | None
    created_at: datetime


@attrs.define
class Delivery:
    """One hand-out of the message: a polling lease, or the webhook delivery and its
    attempts. A polling delivery starts leased; a webhook delivery starts due now."""

    id: str
    mode: DeliveryMode = attrs.field(converter=DeliveryMode)
    status: DeliveryStatus = attrs.field(converter=DeliveryStatus)
    created_at: datetime
    leased_until: datetime | None = None
    max_attempts: int | None = None
    claim_token: str | None = None  # the webhook claim this lease belongs to; never rendered
    claimed_at: datetime | None = None
    attempt_count: int = 0
    next_attempt_at: datetime | None = None
    delivered_at: datetime | None = None
    last_error: str | None = None
    attempts: list[WebhookAttempt] = attrs.Factory(list)

    @classmethod
    def polling(cls, delivery_id: str, at: datetime, leased_until: datetime) -> Delivery:
        """A polling delivery, leased until ``leased_until``."""
        return cls(delivery_id, DeliveryMode.POLLING, DeliveryStatus.LEASED, at, leased_until)

    @classmethod
    def webhook(cls, delivery_id: str, at: datetime, max_attempts: int) -> Delivery:
        """A webhook delivery, due now."""
        status = DeliveryStatus.RETRY_SCHEDULED
        return cls(delivery_id, DeliveryMode.WEBHOOK, status, at, max_attempts=max_attempts)

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Delivery:
        """The delivery from its stored form."""
        attempts = [WebhookAttempt(**a) for a in state["attempts"]]
        return cls(**{**state, "attempts": attempts})

    # -- predicates (the claim path asks these of every open message) ----------------

    def holds_lease(self, now: datetime) -> bool:
        """Whether this delivery holds the message's single active lease (§4.6)."""
        if self.status is not _LEASED:
            return False
        until = self.leased_until
        return until is not None and until > now

    def polling_lease(self, now: datetime) -> bool:
        """An active polling lease: the recipient may extend it and ACK on it."""
        return self.mode is _POLLING and self.holds_lease(now)

    @property
    def pushed(self) -> bool:
        """A webhook delivery that got a 2xx: nothing is handed out again after it."""
        return self.status is _DELIVERED and self.mode is _WEBHOOK

    @property
    def pending(self) -> bool:
        """A webhook delivery still to be tried (scheduled, or leased to an attempt)."""
        return self.mode is _WEBHOOK and self.status in _PENDING

    def due_at(self) -> datetime | None:
        """When a pending webhook delivery may next be claimed: its retry time, or the
        end of an attempt's lease (an attempt lost in a crash is retried after it)."""
        if self.status is DeliveryStatus.LEASED:
            return self.leased_until
        return self.next_attempt_at or self.created_at

    # -- changes (called from the Message's event mutators only) ---------------------

    def extend(self, leased_until: datetime) -> None:
        """The lease ends later."""
        self.leased_until = leased_until

    def claim(self, claim_token: str, leased_until: datetime, at: datetime) -> None:
        """An attempt took the webhook delivery's lease."""
        self.status = DeliveryStatus.LEASED
        self.claim_token = claim_token
        self.claimed_at = at
        self.leased_until = leased_until

    def record(self, attempt: WebhookAttempt) -> None:
        """An attempt ended: the delivery takes its result."""
        self.attempts.append(attempt)
        self._release()
        self.status = attempt.result
        self.attempt_count = attempt.attempt_number
        self.next_attempt_at = attempt.next_attempt_at
        self.last_error = attempt.error
        if attempt.result is DeliveryStatus.DELIVERED:
            self.delivered_at = attempt.created_at

    def end(self, reason: str) -> None:
        """The webhook delivery ended without an attempt."""
        self._release()
        self.status = DeliveryStatus.FAILED
        self.next_attempt_at = None
        self.last_error = reason

    def acked(self, at: datetime) -> None:
        """An ACK on a polling lease: the lease delivered the message."""
        if self.mode is DeliveryMode.POLLING and self.status is DeliveryStatus.LEASED:
            self.status = DeliveryStatus.DELIVERED
            self.delivered_at = at

    def _release(self) -> None:
        self.claim_token = None
        self.claimed_at = None
        self.leased_until = None


@attrs.frozen
class Ack:
    """The recipient's answer on one delivery."""

    id: str
    delivery_id: str
    status: AckStatus = attrs.field(converter=AckStatus)
    payload: Any
    created_at: datetime


@attrs.define
class ReplayAttempt:
    """The message's part in one replay: pending until its one attempt is recorded."""

    replay_id: str
    target: ReplayTarget
    delivery_id: str  # the original delivery's id, sent again as webhook-id
    started_at: datetime
    result: Literal["delivered", "failed"] | None = None
    response_status: int | None = None
    error: str | None = None
    ended_at: datetime | None = None


def classify_attempt(
    status: int | None, error: str | None
) -> Literal["delivered", "retry", "failed"]:
    """What an attempt's outcome means (contract §5.4).

    2xx is delivered; 429, 5xx and transport errors may be retried; every other status
    (1xx, 3xx since redirects are never followed, 4xx) fails at once, as does a target
    the SSRF check refused.
    """
    if status is None:
        return "failed" if error in _PERMANENT_ERRORS else "retry"
    if 200 <= status <= 299:
        return "delivered"
    if status == 429 or 500 <= status <= 599:
        return "retry"
    return "failed"


@attrs.frozen
class RetryPolicy:
    """When the next webhook attempt is due.

    ``delays[n - 1]`` is the wait before attempt ``n`` (the first entry, for attempt 1,
    is unused); beyond the table the last entry repeats. A receiver's ``Retry-After``
    replaces the table's delay for that one retry, clamped to ``retry_after_bounds``:
    it knows its own load better than a fixed schedule does.
    """

    delays: tuple[float, ...]  # Settings.webhook_retry_delays
    retry_after_bounds: tuple[float, float] = (1.0, 86400.0)

    def next_attempt_at(
        self, attempt_number: int, retry_after: float | None, now: datetime
    ) -> datetime:
        """When the attempt after ``attempt_number`` (which ended ``now``) is due."""
        if retry_after is not None:
            low, high = self.retry_after_bounds
            delay = min(max(retry_after, low), high)
        else:
            delay = self.delays[min(attempt_number, len(self.delays) - 1)]
        return now + timedelta(seconds=delay)

    def outcome(
        self,
        delivery: Delivery,
        response_status: int | None,
        error: str | None,
        retry_after: float | None,
        expires_at: datetime,
        now: datetime,
    ) -> tuple[AttemptResult, datetime | None]:
        """What the delivery's next attempt ending ``now`` leads to, and when the one
        after it is due: a retry only while attempts remain and it would start before
        the message expires (``expires_at``)."""
        verdict = classify_attempt(response_status, error)
        if verdict == "delivered":
            return "delivered", None
        attempt_number = delivery.attempt_count + 1
        if verdict == "retry" and attempt_number < (delivery.max_attempts or 0):
            candidate = self.next_attempt_at(attempt_number, retry_after, now)
            if candidate < expires_at:
                return "retry_scheduled", candidate
        return "failed", None
