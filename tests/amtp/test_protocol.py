"""AMTP's pure parts: TXT records, message ids, relays' keys and schedule, a relay's
states, and the gateways' signatures."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from atp.amtp import (
    InvalidMessageFormat,
    canonical_address,
    new_message_id,
    parse_message,
    parse_txt,
    relay_message,
    txt_value,
)
from atp.domain import AGENT_ID_PREFIX, AmtpRelay, next_delay
from atp.federation import GatewayKey, verify_request

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def test_a_txt_record_round_trips_and_other_gateways_records_parse() -> None:
    key = bytes(range(32))
    record = parse_txt([txt_value("https://gw.one.test", 65536, key)])
    assert record is not None
    assert (record.gateway, record.auth, record.max_size, record.public_key) == (
        "https://gw.one.test", ("apikey",), 65536, key,
    )  # fmt: skip
    agentry = "v=amtp1;gateway=https://amtp.example.com:443;auth=cert,oauth;features=x"
    other = parse_txt(["nonsense", agentry])
    assert other is not None and other.public_key is None and other.auth == ("cert", "oauth")
    for bad in ("v=amtp2;gateway=https://x", "v=amtp1", "v=amtp1;gateway=ftp://x", ""):
        assert parse_txt([bad]) is None
    assert parse_txt(["v=amtp1;gateway=https://x;pubkey=ed25519:c2hvcnQ="]).public_key is None  # type: ignore[union-attr]


def test_names_compare_in_any_case_and_agent_ids_exactly() -> None:
    assert canonical_address("Sales@One.TEST") == "sales@one.test"
    agent = f"{AGENT_ID_PREFIX}pJRpWe5WOzNwAdhs8vrkCA"  # an unnamed agent's address is its id
    assert canonical_address(f"{agent}@One.Test") == f"{agent}@one.test"
    recipients = [f"{agent}@one.test", f"{agent.lower()}@one.test", "Bob@one.test", "bob@one.test"]
    message = parse_message({"sender": "a@one.test", "recipients": recipients, "payload": 1}, NOW)
    assert [str(r) for r in message.recipients] == recipients[:3]  # two ids, one name


def test_message_ids_are_uuid7_in_time_order() -> None:
    first = uuid.UUID(new_message_id(NOW))
    later = uuid.UUID(new_message_id(NOW + timedelta(milliseconds=2)))
    assert first.version == later.version == 7 and first.variant == uuid.RFC_4122
    assert first.int >> 80 == int(NOW.timestamp() * 1000)
    assert str(first) < str(later)


def test_a_message_is_kept_with_the_fields_a_gateway_adds() -> None:
    kept = parse_message({"sender": "A@One.Test", "recipients": ["b@two.test"]}, NOW)
    assert kept.document["sender"] == "A@one.test"  # the domain in lower case
    assert kept.document["timestamp"] == "2026-12-07T12:00:00.000000Z"
    assert kept.document["payload"] is None and kept.document["version"] == "1.0"
    sdk_time = parse_message(
        {
            "sender": "a@x.test",
            "recipients": ["b@x.test"],
            "timestamp": "2026-12-07T13:00:00+01:00",
        },
        NOW,
    )
    assert sdk_time.document["timestamp"] == "2026-12-07T12:00:00.000000Z"
    with pytest.raises(InvalidMessageFormat):
        parse_message({"sender": "a@x.test", "recipients": ["b@x.test"], "timestamp": "12:00"}, NOW)


def test_a_relay_key_follows_from_the_message_and_its_recipient_set() -> None:
    document = {"message_id": str(uuid.uuid4()), "idempotency_key": "client", "payload": 1}
    one = relay_message(document, ["b@two.test", "c@two.test"])
    same = relay_message(document, ["C@two.test", "b@two.test"])
    other = relay_message(document, ["b@two.test"])
    assert one["idempotency_key"] == same["idempotency_key"] != other["idempotency_key"]
    assert one["recipients"] == ["b@two.test", "c@two.test"] and one["payload"] == 1


def test_the_retry_schedule_doubles_from_a_second_with_jitter_and_a_cap() -> None:
    rng = random.Random(7)
    for attempt, base in ((1, 1.0), (2, 2.0), (5, 16.0), (30, 3600.0)):
        delays = [next_delay(attempt, rng) for _ in range(200)]
        assert base * 0.75 <= min(delays) and max(delays) <= base * 1.25
        assert max(delays) - min(delays) > base * 0.3  # jittered, not fixed


def relay(max_attempts: int = 3) -> AmtpRelay:
    return AmtpRelay.start(
        str(uuid.uuid4()), "two.test", ["b@two.test"], "agt_a", "acct_a", max_attempts, NOW
    )


def test_a_relay_is_retried_delivered_or_given_up() -> None:
    retried = relay()
    retried.record_attempt(None, "timeout", 1.0, NOW)
    assert retried.state == "pending" and retried.due_at == NOW + timedelta(seconds=1)
    retried.record_attempt(503, None, 2.0, NOW)
    retried.record_attempt(202, None, 4.0, NOW)
    assert retried.state == "delivered" and retried.attempts == 3 and retried.due_at is None

    exhausted = relay(max_attempts=2)
    exhausted.record_attempt(500, None, 1.0, NOW)
    exhausted.record_attempt(None, "connect_error", 2.0, NOW)
    assert exhausted.state == "failed" and exhausted.reason == "2 attempts failed"

    refused = relay()
    refused.record_attempt(403, None, 1.0, NOW)  # a retry cannot change a refusal
    assert refused.state == "failed" and refused.attempts == 1
    throttled = relay()
    throttled.record_attempt(429, None, 30.0, NOW)
    assert throttled.state == "pending"


def test_a_signature_holds_for_its_domain_body_and_target_only() -> None:
    key = GatewayKey.from_settings(None, "secret one")
    body, url = b'{"x":1}', "https://gw.two.test/v1/messages"
    headers = key.signature_headers("POST", url, body, "one.test")
    fields = list(headers.items())
    assert verify_request("POST", url, fields, body, "one.test", key.public_key)
    assert not verify_request("POST", url, fields, body, "evil.test", key.public_key)
    assert not verify_request("POST", url, fields, b'{"x":2}', "one.test", key.public_key)
    assert not verify_request("POST", "https://gw.three.test/v1/messages", fields, body,
                              "one.test", key.public_key)  # fmt: skip
    other = GatewayKey.from_settings(None, "secret two")
    assert not verify_request("POST", url, fields, body, "one.test", other.public_key)
    assert key.public_key == GatewayKey.from_settings(None, "secret one").public_key
    assert "secret" not in repr(key.__dict__)
