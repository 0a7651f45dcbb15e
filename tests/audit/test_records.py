"""The record format: frozen types, canonical bytes, and what a record may not hold."""

from __future__ import annotations

import hashlib
import json
import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import rfc8785
from eventsourcing.utils import get_topic

from atp.audit import TYPES, Directory, canonical, make_record
from atp.domain import IdempotencyRecord, Message

GOLDEN = Path(__file__).resolve().parents[1] / "golden"


def test_the_follower_reads_every_event_that_has_a_record() -> None:
    """An event the follower skipped would be a gap ``atp audit verify`` reports."""
    from atp.audit._follower import AuditView
    from atp.projections import event_classes

    read = {get_topic(c) for c in event_classes(AuditView.aggregates)}
    assert set(TYPES) <= read  # and the bases (``Event``, ``Created``), never stored


def test_every_event_topic_has_its_frozen_record_type() -> None:
    topics = (GOLDEN / "event_topics.txt").read_text().split()
    assert sorted(TYPES) == sorted(topics)
    golden = (GOLDEN / "audit_types.txt").read_text().splitlines()
    assert [f"{t} {n}" for t, n in sorted(TYPES.items())] == golden, (
        "a record type changed: stored events keep theirs; add a new record version instead"
    )
    assert len(set(TYPES.values())) == len(TYPES)


def random_json(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(9 if depth < 3 else 6)
    if kind == 0:
        return rng.choice([0, -1, 7, 2**53 - 1, 2**40 + 1, 123456789012345])
    if kind == 1:
        return rng.choice([0.5, -1.25, 1e21, 1e-7, 3.0, 123.456, 1e300, 5e-324])
    if kind == 2:
        return rng.choice(
            ["", "a.b", "e", "\u2028", "\x1f", "é", "\U0001f600", 'q"\\', "x:1.5", ",1e5"]
        )
    if kind in (3, 4, 5):
        return rng.choice([True, False, None, "plain"])
    if kind in (6, 7):
        keys = ["a", "b", "\ue000", "\U0001f600", "é", "A", "10", "1"]
        return {rng.choice(keys): random_json(rng, depth + 1) for _ in range(rng.randrange(4))}
    return [random_json(rng, depth + 1) for _ in range(rng.randrange(4))]


def test_canonical_is_rfc8785_for_any_json_it_can_write() -> None:
    rng = random.Random(8785)
    for _ in range(3000):
        value = random_json(rng)
        assert canonical(value) == rfc8785.dumps(value), value
    assert canonical({"n": 2**64}) == b'{"n":18446744073709551616}'  # past JCS: ours, stable


def test_a_message_record_hashes_its_payload_and_keeps_no_secret() -> None:
    at = datetime(2026, 12, 6, 18, 0, tzinfo=UTC)
    message = Message.create(
        "msg_one", sender_agent_id="agt_s", sender_account_id="acct_s",
        recipient_agent_id="agt_r", recipient_account_id="acct_r", trust="trusted",
        payload={"parts": [{"kind": "text", "text": "the secret plan", "n": 1.5}]},
        at=at, expires_at=at,
    )  # fmt: skip
    (sent,) = message.collect_events()
    record = make_record(0, "atp.domain._message:Message.Sent", sent, Directory())
    body = json.loads(record.canonical)
    assert body["aggregate"] == {"type": "message", "id": "msg_one"}
    assert body["actor"] == "agt_s" and body["type"] == "message.sent"
    payload = rfc8785.dumps(sent.payload)
    assert body["data"]["payload_sha256"] == hashlib.sha256(payload).hexdigest()
    assert b"secret plan" not in record.canonical
    assert record.canonical == rfc8785.dumps(body)

    kept = IdempotencyRecord.record(
        IdempotencyRecord.create_id("acct_s|agent|agt_s|POST /api/messages|key-1"),
        scope="acct_s|agent|agt_s|POST /api/messages|key-1", request_hash="ab" * 32,
        status=201, sealed_body="SEALED-TOKEN-BODY", at=at,
    )  # fmt: skip
    (recorded,) = kept.collect_events()
    record = make_record(
        1, "atp.domain._idempotency:IdempotencyRecord.Recorded", recorded, Directory()
    )
    assert b"SEALED" not in record.canonical and b"key-1" not in record.canonical
    assert json.loads(record.canonical)["actor"] == "agt_s"


SHAPES = GOLDEN / "audit_record_shapes.txt"


def shape_line(record: dict[str, Any]) -> str:
    """``type: aggregate type; data keys`` — what a record of a type always holds."""
    kind = record["aggregate"]["type"]
    return f"{record['type']}: {kind}; {', '.join(sorted(record['data']))}"


async def test_each_record_type_keeps_its_frozen_shape(api: Any, receiver: Any) -> None:
    """The records of a mixed workload (every kind of aggregate, webhooks, a dead letter,
    a session) have the shapes in the golden file: a stored record never changes shape."""
    from tests.audit.test_transfer import mixed_workload

    await mixed_workload(api, receiver)
    records = []
    for token in api.account_ids:  # both accounts: each sees its own agents' records
        after = None
        while True:
            params = {"limit": 1000, **({"after": after} if after else {})}
            r = await api.client.get(
                "/api/events", params=params, headers={"authorization": f"Bearer {token}"}
            )
            body = r.json()
            records += [e["record"] for e in body["events"]]
            if body["next"] is None:
                break
            after = body["next"]
    assert {set(r) == {"v", "index", "type", "at", "aggregate", "version", "actor", "data"}
            for r in records} == {True}  # fmt: skip
    seen = {shape_line(r) for r in records}
    golden = set(SHAPES.read_text().splitlines())
    assert {line.split(":")[0] for line in golden} == set(TYPES.values())
    assert seen <= golden, f"record shapes changed: {sorted(seen - golden)}"
    assert len(seen) >= 10  # the workload reaches most of them
