"""Deliveries, ACKs and the webhook retry rules (contract §4.1, §5.4).

A delivery is one hand-out of a message: a polling lease, or the message's webhook
delivery with its attempts. They live inside the Message aggregate as plain records;
this module holds their shape and the pure rules that decide what an attempt's
outcome means, so the aggregate records decisions and replay never re-decides.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal, TypedDict

import attrs

__all__ = [
    "Ack",
    "AttemptResult",
    "Delivery",
    "RetryPolicy",
    "WebhookAttempt",
    "classify_attempt",
    "new_delivery",
]

AttemptResult = Literal["delivered", "retry_scheduled", "failed"]

# Errors after which another try cannot help: the target is refused before connecting.
_PERMANENT_ERRORS = frozenset({"unsafe_webhook_url"})


class WebhookAttempt(TypedDict):
    """One HTTP try of a webhook delivery, as contract §5.5 records it."""

    id: str
    attempt_number: int
    response_status: int | None
    error: str | None
    result: AttemptResult
    next_attempt_at: datetime | None
    request_url: str | None
    created_at: datetime


class Delivery(TypedDict):
    """One hand-out of the message: a polling lease, or the webhook delivery and its attempts."""

    id: str
    mode: Literal["polling", "webhook"]
    status: Literal["leased", "delivered", "retry_scheduled", "failed"]
    claim_token: str | None  # the webhook claim this lease belongs to; never rendered
    claimed_at: datetime | None
    leased_until: datetime | None
    attempt_count: int
    max_attempts: int | None
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    last_error: str | None
    attempts: list[WebhookAttempt]
    created_at: datetime


class Ack(TypedDict):
    id: str
    delivery_id: str
    status: Literal["accepted", "completed", "failed", "rejected"]
    payload: Any
    created_at: datetime


def new_delivery(
    delivery_id: str,
    mode: Literal["polling", "webhook"],
    at: datetime,
    *,
    leased_until: datetime | None = None,
    max_attempts: int | None = None,
) -> Delivery:
    """A polling delivery starts leased; a webhook delivery starts due now."""
    return {
        "id": delivery_id,
        "mode": mode,
        "status": "leased" if mode == "polling" else "retry_scheduled",
        "claim_token": None,
        "claimed_at": None,
        "leased_until": leased_until,
        "attempt_count": 0,
        "max_attempts": max_attempts,
        "next_attempt_at": None,
        "delivered_at": None,
        "last_error": None,
        "attempts": [],
        "created_at": at,
    }


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
