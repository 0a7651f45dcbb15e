"""A message's webhook delivery: claims, the retry decision, dead letters (contract §5.4)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from atp.domain import Message, RetryPolicy
from atp.domain._delivery import classify_attempt
from atp.errors import MessageExpired, NotDeadLettered, StaleDeliveryClaim
from atp.settings import Settings
from tests.domain.test_message import NOW, fresh, refused

POLICY = RetryPolicy(Settings().webhook_retry_delays)


def pushed(max_attempts: int = 3) -> Message:
    message = fresh()
    message.schedule_webhook("dlv_w", max_attempts, NOW)
    message.collect_events()
    return message


def attempt(message: Message, status: int | None, error: str | None = None, *,
            retry_after: float | None = None, at: timedelta = timedelta()) -> str:  # fmt: skip
    """Claim and finish one attempt at ``NOW + at``; return its result."""
    token = f"dcl_{len(message.deliveries[-1].attempts)}"
    message.claim_webhook(token, 60, NOW + at)
    return message.finish_webhook_attempt(
        token, "wha_x", status, error, retry_after, "https://r.example/h", POLICY, NOW + at
    )


@pytest.mark.parametrize(
    ("status", "error", "verdict"),
    [
        (200, None, "delivered"), (204, None, "delivered"), (299, None, "delivered"),
        (429, None, "retry"), (500, None, "retry"), (503, None, "retry"), (599, None, "retry"),
        (None, "timeout", "retry"), (None, "connect_error", "retry"),
        (None, "internal_task_exit", "retry"),
        (None, "unsafe_webhook_url", "failed"), (101, None, "failed"), (302, None, "failed"),
        (400, None, "failed"), (404, None, "failed"), (410, None, "failed"),
    ],
)  # fmt: skip
def test_outcomes_are_classified_as_the_contract_says(
    status: int | None, error: str | None, verdict: str
) -> None:
    assert classify_attempt(status, error) == verdict


def test_the_schedule_and_retry_after() -> None:
    assert POLICY.next_attempt_at(1, None, NOW) == NOW + timedelta(seconds=30)
    assert POLICY.next_attempt_at(2, None, NOW) == NOW + timedelta(seconds=120)
    assert POLICY.next_attempt_at(7, None, NOW) == NOW + timedelta(days=1)
    assert POLICY.next_attempt_at(20, None, NOW) == NOW + timedelta(days=1)  # beyond the table
    assert POLICY.next_attempt_at(1, 7, NOW) == NOW + timedelta(seconds=7)
    assert POLICY.next_attempt_at(1, 0, NOW) == NOW + timedelta(seconds=1)  # clamped
    assert POLICY.next_attempt_at(1, 10**9, NOW) == NOW + timedelta(days=1)


def test_a_claim_leases_the_delivery_and_blocks_polling() -> None:
    message = pushed()
    assert message.webhook_due_at() == NOW
    assert message.claim_webhook("dcl_1", 60, NOW) == 1
    delivery = message.deliveries[0]
    assert (delivery.status, delivery.claim_token) == ("leased", "dcl_1")
    assert message.active_lease(NOW) is delivery
    assert not message.claimable(NOW)
    assert message.webhook_due_at() == NOW + timedelta(seconds=60)


def test_retries_stop_at_the_cap_and_park_a_dead_letter() -> None:
    message = pushed(max_attempts=3)
    assert attempt(message, 503) == "retry_scheduled"
    assert message.webhook_due_at() == NOW + timedelta(seconds=30)
    assert attempt(message, 500, at=timedelta(seconds=30)) == "retry_scheduled"
    assert attempt(message, 500, at=timedelta(seconds=150)) == "failed"
    delivery = message.deliveries[0]
    assert delivery.attempt_count == 3 and delivery.status == "failed"
    assert [a.attempt_number for a in delivery.attempts] == [1, 2, 3]
    assert message.carrier_status == "delivery_failed" and message.dead_lettered
    assert message.pending_webhook() is None


def test_no_retry_is_scheduled_past_the_expiry() -> None:
    message = pushed(max_attempts=8)
    late = message.expires_at - NOW - timedelta(seconds=10)
    assert attempt(message, 503, at=late) == "failed"  # the next try would be after expiry


def test_a_stale_claim_records_nothing() -> None:
    message = pushed()
    message.claim_webhook("dcl_1", 60, NOW)
    message.collect_events()
    refused(
        message, StaleDeliveryClaim,
        lambda: message.finish_webhook_attempt(
            "dcl_other", "wha_1", 200, None, None, None, POLICY, NOW
        ),
    )  # fmt: skip


def test_a_stale_lease_is_reclaimed_with_the_same_attempt_number() -> None:
    message = pushed()
    assert message.claim_webhook("dcl_1", 60, NOW) == 1
    assert message.claim_webhook("dcl_2", 60, NOW + timedelta(seconds=61)) == 1


def test_delivery_marks_the_message_delivered_and_hides_it_from_polling() -> None:
    message = pushed()
    assert attempt(message, 200) == "delivered"
    assert message.carrier_status == "delivered"
    assert not message.claimable(NOW)
    assert not message.is_open  # the mailbox lets it go; a late ACK loads it again


def test_end_reasons() -> None:
    message = pushed()
    assert message.webhook_end_reason(True, NOW) is None
    assert message.webhook_end_reason(False, NOW) == "webhook_endpoint_inactive"
    assert message.webhook_end_reason(True, message.expires_at) == "message_expired"
    message.end_webhook("webhook_endpoint_inactive", NOW)
    assert message.dead_lettered and message.deliveries[0].last_error == (
        "webhook_endpoint_inactive"
    )


def test_dead_letters_are_redriven_or_released_once() -> None:
    message = pushed()
    attempt(message, 404)
    message.redrive("dlv_2", 3, NOW)
    assert message.carrier_status == "queued" and message.pending_webhook() is not None
    assert message.deliveries[-1].attempt_count == 0
    message.collect_events()
    refused(message, NotDeadLettered, lambda: message.release(NOW))
    attempt(message, 404)
    message.release(NOW)
    assert message.carrier_status == "queued" and message.claimable(NOW)
    assert message.pending_webhook() is None
    message.collect_events()
    refused(message, NotDeadLettered, lambda: message.redrive("dlv_3", 3, NOW))


def test_an_expired_dead_letter_cannot_come_back() -> None:
    message = pushed()
    attempt(message, 404)
    message.collect_events()
    refused(message, MessageExpired, lambda: message.release(message.expires_at))
