"""Message aggregate: leases, extensions, ACK transitions, expiry. Refusals record nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from atp.domain import Message
from atp.errors import (
    AtpError,
    DeliveryNotDelivered,
    InvalidAckTransition,
    InvalidLease,
    LeaseExpired,
    NotFound,
    TerminalAckStatus,
)

NOW = datetime(2026, 5, 27, 12, 0, tzinfo=UTC)


def fresh(trust: str = "trusted") -> Message:
    message = Message(
        message_id="msg_1", sender_agent_id="agt_s", sender_account_id="acct_s",
        recipient_agent_id="agt_r", recipient_account_id="acct_r", trust=trust,
        payload={"messageId": "m", "role": "ROLE_USER", "parts": [{"text": "hi"}]},
        at=NOW, expires_at=NOW + timedelta(days=7),
    )  # fmt: skip
    message.collect_events()
    return message


def refused(message: Message, error: type[AtpError], action: object) -> None:
    """The command raised ``error`` and left no pending event behind."""
    with pytest.raises(error):
        action()  # type: ignore[operator]
    assert message.collect_events() == []


def test_sent_message_is_queued_and_claimable() -> None:
    message = fresh()
    assert message.carrier_status == "queued"
    assert message.claimable(NOW)
    assert message.is_open


def test_lease_hands_out_and_blocks_a_second_lease() -> None:
    message = fresh()
    delivery = message.lease("dlv_1", 60, NOW)
    assert delivery.leased_until == NOW + timedelta(seconds=60)
    assert message.carrier_status == "delivered"
    assert not message.claimable(NOW + timedelta(seconds=59))
    assert message.claimable(NOW + timedelta(seconds=60))
    assert [type(e).__name__ for e in message.collect_events()] == ["DeliveryLeased"]


def test_extend_adds_to_the_current_end() -> None:
    message = fresh()
    message.lease("dlv_1", 60, NOW)
    message.extend("dlv_1", 60, NOW)
    message.extend("dlv_1", 120, NOW)
    assert message.delivery("dlv_1").leased_until == NOW + timedelta(seconds=240)


def test_extend_refusals_record_nothing() -> None:
    message = fresh()
    message.lease("dlv_1", 60, NOW)
    message.collect_events()
    refused(message, LeaseExpired, lambda: message.extend("dlv_1", 60, NOW + timedelta(seconds=60)))
    refused(message, NotFound, lambda: message.extend("dlv_x", 60, NOW))
    message.ack("ack_1", "dlv_1", "completed", None, NOW)
    message.collect_events()
    refused(message, InvalidLease, lambda: message.extend("dlv_1", 60, NOW))


def test_webhook_delivery_cannot_be_extended_or_acked_before_delivery() -> None:
    message = fresh()
    message.schedule_webhook("dlv_w", 3, NOW)
    message.collect_events()
    refused(message, InvalidLease, lambda: message.extend("dlv_w", 60, NOW))
    refused(message, DeliveryNotDelivered, lambda: message.ack("a", "dlv_w", "accepted", None, NOW))


@pytest.mark.parametrize(
    ("first", "second", "error"),
    [
        ("accepted", "accepted", InvalidAckTransition),
        ("accepted", "rejected", InvalidAckTransition),
        ("completed", "completed", TerminalAckStatus),
        ("failed", "accepted", TerminalAckStatus),
        ("rejected", "failed", TerminalAckStatus),
    ],
)
def test_ack_transition_refusals(first: str, second: str, error: type[AtpError]) -> None:
    message = fresh()
    message.lease("dlv_1", 60, NOW)
    message.ack("ack_1", "dlv_1", first, None, NOW)  # type: ignore[arg-type]
    message.collect_events()
    refused(message, error, lambda: message.ack("ack_2", "dlv_1", second, None, NOW))


def test_accepted_then_completed_after_the_lease_lapsed() -> None:
    message = fresh()
    message.lease("dlv_1", 60, NOW)
    message.ack("ack_1", "dlv_1", "accepted", None, NOW)
    later = NOW + timedelta(hours=1)
    ack = message.ack("ack_2", "dlv_1", "completed", {"x": 1}, later)
    assert ack.status == "completed"
    assert message.ack_status == "completed" and message.terminal_at == later
    assert message.delivery("dlv_1").status == "delivered"


def test_ack_after_lease_lapse_is_refused() -> None:
    message = fresh()
    message.lease("dlv_1", 60, NOW)
    message.collect_events()
    late = NOW + timedelta(seconds=61)
    refused(message, LeaseExpired, lambda: message.ack("a", "dlv_1", "completed", None, late))


def test_any_ack_hides_the_message_from_claims() -> None:
    message = fresh()
    message.lease("dlv_1", 0, NOW)
    message.ack("ack_1", "dlv_1", "accepted", None, NOW - timedelta(seconds=1))
    assert not message.claimable(NOW + timedelta(days=1))
    assert not message.is_open


def test_rejected_message_is_terminal_and_never_claimable() -> None:
    message = fresh()
    message.reject(NOW)
    assert message.carrier_status == "rejected" and message.terminal_at == NOW
    assert not message.claimable(NOW)


def test_expiry_only_for_messages_nobody_took() -> None:
    untouched, taken = fresh(), fresh()
    taken.lease("dlv_1", 0, NOW)
    late = NOW + timedelta(days=7)
    assert not untouched.expire_if_due(late - timedelta(seconds=1))
    assert untouched.expire_if_due(late)
    assert untouched.carrier_status == "expired" and untouched.terminal_at == late
    assert not taken.expire_if_due(late)
    assert taken.carrier_status == "delivered"
    assert not taken.claimable(late)


def test_replay_of_events_rebuilds_the_same_state() -> None:
    message = Message(
        message_id="msg_1", sender_agent_id="agt_s", sender_account_id="acct_s",
        recipient_agent_id="agt_r", recipient_account_id="acct_r", trust="trusted",
        payload={"x": 1}, at=NOW, expires_at=NOW + timedelta(days=7),
    )  # fmt: skip
    message.lease("dlv_1", 60, NOW)
    message.extend("dlv_1", 30, NOW)
    message.ack("ack_1", "dlv_1", "accepted", None, NOW)
    replayed = None
    for event in message.collect_events():
        replayed = event.mutate(replayed)  # type: ignore[attr-defined]
    assert vars(replayed) == vars(message)
