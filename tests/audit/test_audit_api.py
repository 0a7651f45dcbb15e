"""The audit routes through a real Hypercorn, checked with the tests' own verifiers."""

from __future__ import annotations

import base64
import json

import attrs
import httpx
import pytest
import trio

from atp.actors import Runtime
from atp.serve import open_runtime, serve_http
from atp.settings import Settings
from tests.support.helpers import Api, text
from tests.support.notes import open_checkpoint
from tests.support.rfc9162 import verify_consistency, verify_inclusion


@pytest.fixture(params=["inline", "process"])
def follower(request: pytest.FixtureRequest) -> str:
    """The log written in the server's process and in its own."""
    mode: str = request.param
    return mode


def b64(text: str) -> bytes:
    return base64.b64decode(text)


async def workload(api: Api, count: int = 6) -> None:
    sender, recipient = await api.pair()
    for i in range(count):
        r = await api.send(sender, recipient, text(f"m-{i}", f"secret payload {i}"))
        assert r.status_code == 201, r.text
    claimed = await api.claim(recipient)
    assert claimed.status_code in (200, 201), claimed.text


async def newest_checkpoint(api: Api, runtime: Runtime) -> tuple[str, int, bytes, str]:
    """The newest checkpoint once it covers everything committed."""
    key = (await api.client.get("/api/audit/key")).json()["verifier_key"]
    await runtime.audit.wait_current()
    size = await runtime.audit.committed_size()
    with trio.fail_after(10):
        while True:
            r = await api.client.get("/api/audit/checkpoint")
            assert r.status_code == 200
            assert r.headers["content-type"].startswith("text/plain")
            origin, signed_size, root = open_checkpoint(r.text, key)
            if signed_size == size:
                return origin, signed_size, root, r.text
            await trio.sleep(0.05)


async def test_the_key_names_the_origin_and_verifies_checkpoints(
    api: Api, runtime: Runtime
) -> None:
    r = await api.client.get("/api/audit/key")
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"origin", "key_name", "verifier_key"}
    assert body["verifier_key"].startswith(body["key_name"] + "+")
    await workload(api)
    origin, size, root, note = await newest_checkpoint(api, runtime)
    assert origin == body["origin"] and size > 0
    assert note.startswith(f"{origin}\n{size}\n{base64.b64encode(root).decode()}\n\n\u2014 ")
    r = await api.client.get("/api/audit/checkpoint", params={"size": size})
    assert r.text == note  # byte-exact, by size too


async def test_every_leaf_is_proven_in_the_signed_tree(api: Api, runtime: Runtime) -> None:
    await workload(api)
    _, size, root, _ = await newest_checkpoint(api, runtime)
    for index in range(size):
        r = await api.client.get(
            "/api/audit/proofs/inclusion", params={"index": index, "size": size}
        )
        assert r.status_code == 200, r.text
        proof = r.json()
        assert (proof["index"], proof["size"]) == (index, size)
        hashes = [b64(h) for h in proof["hashes"]]
        assert verify_inclusion(index, size, b64(proof["leaf_hash"]), hashes, root), index


async def test_a_later_tree_is_proven_to_extend_an_earlier_one(api: Api, runtime: Runtime) -> None:
    await workload(api, 3)
    _, first, first_root, _ = await newest_checkpoint(api, runtime)
    await workload(api, 4)
    _, second, second_root, _ = await newest_checkpoint(api, runtime)
    assert second > first
    r = await api.client.get("/api/audit/proofs/consistency", params={"from": first, "to": second})
    assert r.status_code == 200, r.text
    hashes = [b64(h) for h in r.json()["hashes"]]
    assert verify_consistency(first, second, first_root, second_root, hashes)
    assert not verify_consistency(first, second, second_root, second_root, hashes)


async def test_records_hold_no_payload_and_no_secret(api: Api, runtime: Runtime) -> None:
    await workload(api)
    await runtime.audit.wait_current()
    records = await runtime.audit.read(runtime.audit.store.records, 0, 1000)
    assert records
    types = set()
    for kept in records:
        record = json.loads(kept.record)
        types.add(record["type"])
        assert set(record) == {"v", "index", "type", "at", "aggregate", "version", "actor", "data"}
        assert "secret payload" not in kept.record
        for secret in ("ak_", "agk_", "whsec_", "sealed"):
            assert secret not in kept.record
    assert {"account.opened", "agent.registered", "message.sent", "delivery.leased"} <= types


async def test_bad_proof_requests_are_refused_in_the_envelope(api: Api, runtime: Runtime) -> None:
    await workload(api, 1)
    _, size, _, _ = await newest_checkpoint(api, runtime)
    cases = [
        ("/api/audit/proofs/inclusion", {"index": size, "size": size}, 422),
        ("/api/audit/proofs/inclusion", {"index": 0, "size": size + 100}, 404),
        ("/api/audit/proofs/inclusion", {"index": "x", "size": size}, 422),
        ("/api/audit/proofs/inclusion", {"size": size}, 422),
        ("/api/audit/proofs/consistency", {"from": 0, "to": size}, 422),
        ("/api/audit/proofs/consistency", {"from": size, "to": size - 1}, 422),
        ("/api/audit/checkpoint", {"size": size + 100}, 404),
    ]
    for path, params, status in cases:
        r = await api.client.get(path, params=params)
        assert r.status_code == status, (path, params, r.text)
        assert set(r.json()["error"]) >= {"code", "message"}, r.text


async def test_a_checkpoint_every_so_many_leaves_without_waiting_for_the_timer(
    settings: Settings,
) -> None:
    """Every ``audit_checkpoint_leaves`` leaves a checkpoint is signed in the page that
    reaches them, whatever the timer (here a minute) says."""
    every = 5
    quick = attrs.evolve(settings, audit_checkpoint_interval=60.0, audit_checkpoint_leaves=every)
    async with open_runtime(quick) as runtime, trio.open_nursery() as nursery:
        shutdown = trio.Event()
        binds = await nursery.start(serve_http, runtime, shutdown)
        async with httpx.AsyncClient(base_url=binds[0], timeout=30) as client:
            await workload(Api(client), 6)
            await runtime.audit.wait_current()
            size = await runtime.audit.committed_size()
            sizes = [c.size for c in await runtime.audit.read(runtime.audit.store.checkpoints)]
        shutdown.set()
    assert sizes[0] == 0  # the empty tree, signed at first start
    assert sizes[1:] == list(range(every, size + 1, every))
