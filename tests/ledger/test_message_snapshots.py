"""Message snapshots through the real ledger: typed state round-trips, and a snapshot
written before the state was typed (version 1: dicts and strings) still loads."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.persistence import StoredEvent

from atp.domain import (
    Ack,
    AckStatus,
    CarrierStatus,
    Delivery,
    DeliveryMode,
    DeliveryStatus,
    Message,
    ReplayAttempt,
    RetryPolicy,
    WebhookAttempt,
)
from atp.ledger import Bridge, Ledger
from atp.settings import Settings

# The stored state of a snapshot the dict-based Message wrote (version 1), of the
# message ``lived()`` makes: taken at version 13.
V1_SNAPSHOT = Path(__file__).resolve().parents[1] / "golden" / "message_snapshot_v1.json"
NOW = datetime(2026, 5, 27, 12, tzinfo=UTC)
URL = "https://r.example/hook"


def at(seconds: int) -> datetime:
    return NOW + timedelta(seconds=seconds)


def lived() -> Message:
    """A message with one of everything: a failed webhook delivery with two attempts
    (a dead letter, released), an extended and ACKed polling lease, two replays."""
    message = Message.create(
        "msg_1", sender_agent_id="agt_s", sender_account_id="acct_s",
        recipient_agent_id="agt_r", recipient_account_id="acct_r", trust="trusted",
        payload={"x": 1}, at=NOW, expires_at=NOW + timedelta(days=7),
    )  # fmt: skip
    policy = RetryPolicy((0, 10))
    message.schedule_webhook("dlv_w", 2, NOW)
    message.claim_webhook("dcl_1", 30, NOW)
    message.finish_webhook_attempt("dcl_1", "wha_1", 503, None, None, URL, policy, NOW)
    message.claim_webhook("dcl_2", 30, at(10))
    message.finish_webhook_attempt("dcl_2", "wha_2", 500, None, None, URL, policy, at(10))
    message.release(at(20))
    message.lease("dlv_p", 60, at(30))
    message.extend("dlv_p", 60, at(40))
    message.ack("ack_1", "dlv_p", AckStatus.ACCEPTED, {"ok": True}, at(50))
    message.start_replay("rpl_1", "webhook", at(60))
    message.record_replay("rpl_1", 200, None, URL, at(61))
    message.start_replay("rpl_2", "inbox", at(62))
    return message


def state(message: Message) -> dict[str, Any]:
    """What a message holds, but the bookkeeping eventsourcing stamps with the clock."""
    skip = {"_created_on", "_modified_on", "_pending_events"}
    return {k: v for k, v in vars(message).items() if k not in skip}


def assert_typed(message: Message) -> None:
    assert type(message.carrier_status) is CarrierStatus
    assert type(message.ack_status) is AckStatus
    assert all(type(d) is Delivery for d in message.deliveries)
    assert all(type(d.mode) is DeliveryMode for d in message.deliveries)
    assert all(type(d.status) is DeliveryStatus for d in message.deliveries)
    attempts = [a for d in message.deliveries for a in d.attempts]
    assert attempts and all(type(a) is WebhookAttempt for a in attempts)
    assert all(type(a.result) is DeliveryStatus for a in attempts)
    assert message.acks and all(
        type(a) is Ack and type(a.status) is AckStatus for a in message.acks
    )
    assert all(type(r) is ReplayAttempt for r in message.replays.values())


@pytest.fixture
def ledger(settings: Settings) -> Iterator[Ledger]:
    ledger = Ledger(settings, Bridge(2))
    yield ledger
    ledger.close()


@pytest.mark.parametrize("store", ["sqlite"], indirect=True)
def test_a_snapshot_of_the_typed_state_round_trips(ledger: Ledger) -> None:
    message = lived()
    ledger.app.save(message)
    ledger.app.take_snapshot(message.id)
    snapshots = ledger.app.snapshots
    assert snapshots is not None
    [stored] = snapshots.recorder.select_events(message.id)
    assert (stored.topic, stored.originator_version) == ("atp.domain._message:Message.Snapshot", 13)
    [snapshot] = snapshots.get(message.id)  # decoded from its stored JSON
    loaded = snapshot.mutate(None)
    assert isinstance(loaded, Message)
    assert state(loaded) == state(message)
    assert_typed(loaded)


@pytest.mark.parametrize("store", ["sqlite"], indirect=True)
def test_a_version_1_snapshot_loads_typed_and_takes_new_events(ledger: Ledger) -> None:
    expected = lived()
    snapshots = ledger.app.snapshots
    assert snapshots is not None
    old = StoredEvent(
        originator_id=expected.id,
        originator_version=13,
        topic="eventsourcing.domain:Snapshot",
        state=V1_SNAPSHOT.read_bytes().strip(),
    )
    snapshots.recorder.insert_events([old])
    loaded = ledger.app.repository.get(expected.id)
    assert isinstance(loaded, Message)
    assert state(loaded) == state(expected)
    assert_typed(loaded)
    # Events after the snapshot apply to the typed state as they would to any.
    loaded.ack("ack_2", "dlv_p", AckStatus.COMPLETED, None, at(70))
    assert loaded.ack_status is AckStatus.COMPLETED and loaded.terminal_at == at(70)


def test_the_created_event_is_not_versioned_with_the_aggregate() -> None:
    """``class_version`` 2 is the snapshot state's: the stored events keep version 1,
    so their JSON and their decoding are as before."""
    assert Message.class_version == 2
    assert [getattr(e, "class_version", 1) for e in (Message.Sent, Message.AckRecorded)] == [1, 1]
