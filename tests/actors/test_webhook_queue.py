"""WebhookQueue's schedule: what is due now, oldest first, and when the next falls due.

Real ``Message`` aggregates, no carrier: the queue is a pure data structure of the
mailbox, and its heap must answer exactly what a scan of every waiting message did.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from atp.actors.mailbox._webhook_queue import WebhookQueue
from atp.domain import Message, RetryPolicy, new_id

NOW = datetime(2026, 1, 1, tzinfo=UTC)
RETRIES = RetryPolicy((0, 30, 120))


def pushed(queue: WebhookQueue, at: datetime = NOW) -> Message:
    """A new message with a webhook delivery due at ``at``, followed by ``queue``."""
    message = Message.create(
        new_id("msg"), sender_agent_id="agt_a", sender_account_id="acc_a",
        recipient_agent_id="agt_b", recipient_account_id="acc_a", trust="trusted",
        payload={"messageId": "m", "role": "ROLE_USER", "parts": [{"text": "hi"}]},
        at=at, expires_at=at + timedelta(days=7),
    )  # fmt: skip
    message.schedule_webhook(new_id("dlv"), 3, at)
    queue.track(message)
    return message


def fail_attempt(queue: WebhookQueue, message: Message, now: datetime) -> None:
    """Claim the message's delivery and record a 500 for it."""
    queue.claim(message, now)
    (job,) = queue.take_claimed()
    message.finish_webhook_attempt(
        job.claim_token, new_id("wha"), 500, None, None, "https://x.example/", RETRIES, now
    )
    queue.finished(message)


def test_due_lists_what_is_due_oldest_first_and_leaves_attempts_in_flight_out() -> None:
    queue = WebhookQueue("agt_b", share=8, lease_seconds=60)
    first, second, third = pushed(queue), pushed(queue), pushed(queue)
    later = pushed(queue, NOW + timedelta(seconds=5))
    assert queue.due(NOW - timedelta(seconds=1)) == []
    assert queue.due(NOW) == [first, second, third]
    queue.claim(second, NOW)
    assert queue.due(NOW) == [first, third]  # still due until claimed
    assert queue.due(NOW + timedelta(seconds=5)) == [first, third, later]


def test_a_failed_attempt_is_due_again_at_its_retry() -> None:
    queue = WebhookQueue("agt_b", share=8, lease_seconds=60)
    message = pushed(queue)
    fail_attempt(queue, message, NOW)
    retry = NOW + timedelta(seconds=30)
    assert queue.next_due(NOW) == retry
    assert queue.due(retry - timedelta(seconds=1)) == []
    assert queue.due(retry) == [message]


def test_next_due_waits_out_a_polling_lease_and_ignores_held_turns() -> None:
    queue = WebhookQueue("agt_b", share=8, lease_seconds=60)
    polled, held = pushed(queue), pushed(queue)
    polled.lease(new_id("dlv"), 60, NOW)  # an inbox claim holds it for 60 s
    queue.hold(held.message_id)
    assert queue.next_due(NOW) == NOW + timedelta(seconds=60)
    queue.release_held()  # its earlier turn moved on: due now
    assert queue.next_due(NOW) == NOW
    assert queue.due(NOW) == [held]
    assert queue.due(NOW + timedelta(seconds=60)) == [polled, held]


def test_ended_and_delivered_messages_leave_the_schedule() -> None:
    queue = WebhookQueue("agt_b", share=1, lease_seconds=60)
    ended, delivered = pushed(queue), pushed(queue)
    assert queue.end(ended, "message_acked", NOW)
    queue.claim(delivered, NOW)
    assert queue.full and queue.next_due(NOW) is None  # the share is taken
    (job,) = queue.take_claimed()
    delivered.finish_webhook_attempt(
        job.claim_token, new_id("wha"), 200, None, None, "https://x.example/", RETRIES, NOW
    )
    queue.finished(delivered)
    assert queue.waiting(ended.message_id) is None and queue.waiting(delivered.message_id) is None
    assert queue.due(NOW + timedelta(days=1)) == []
    assert queue.next_due(NOW) is None
