"""SIGKILL the real server and restart it: every acknowledged send survives, exactly once.

A 201 on ``POST /api/messages`` means the message and its idempotency record are in
the ledger (one transaction). Killing the process without any shutdown must lose none
of them, duplicate none, and keep every idempotency key answering with its original
reply.

Whether the read models had caught up at the kill is a race, so the tests fix it:
either a status read waits for them (``current``) or ``hold_views`` keeps the
projection from committing (``behind``, what an immediate kill usually leaves). A
restart with views behind once applied the same notifications twice and exited 1.
"""

from __future__ import annotations

import signal
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

from tests.support.helpers import Agent, Api, text
from tests.support.subprocess_server import ServerProcess, client, hold_views, server_env

pytestmark = pytest.mark.slow

N = 50
SENDERS = 32
PER_SENDER = 8
KILL_AFTER = 20


@pytest.fixture
def env(store: str, tmp_path: Path, request: pytest.FixtureRequest) -> dict[str, str]:
    return server_env(store, tmp_path, request)


async def claim_all(api: Api, agent: Agent, limit: int) -> list[dict[str, Any]]:
    """Claim (fresh key each time) until the inbox is empty; at most ``limit`` deliveries."""
    claimed: list[dict[str, Any]] = []
    for _ in range(limit + 1):
        r = await api.claim(agent, 60)
        if r.status_code == 200:
            assert r.json() == {"delivery": None}, r.text
            return claimed
        assert r.status_code == 201, r.text
        claimed.append(r.json())
    pytest.fail(f"more than {limit} claimable messages: {[c['message']['id'] for c in claimed]}")


@pytest.mark.parametrize("views", ["current", "behind"])
async def test_sigkill_after_sequential_sends_loses_and_duplicates_nothing(
    views: str, env: dict[str, str], tmp_path: Path
) -> None:
    """``views``: whether the read models had caught up with the ledger at the kill."""
    async with ServerProcess(env, tmp_path) as server:
        await server.start()
        sent: list[tuple[str, dict[str, Any]]] = []  # (idempotency key, 201 body), in order
        with ExitStack() as held:
            async with client(server) as api:
                alpha, beta = await api.pair()
                for i in range(N):
                    if i == 1 and views == "behind":  # after the first send started the mailbox
                        held.enter_context(hold_views(env))
                    key = f"crash-send-{i}"
                    r = await api.send(alpha, beta, text(f"m-{i}", f"message {i}"), key=key)
                    assert r.status_code == 201, r.text
                    sent.append((key, r.json()))
                if views == "current":  # a status read waits until the views are current
                    r = await api.status(alpha.token, sent[-1][1]["message"]["id"])
                    assert r.status_code == 200, r.text
                server.kill_now()  # no graceful shutdown
            await server.kill()
        assert server.process is not None and server.process.returncode == -signal.SIGKILL

        await server.start()
        async with client(server) as api:
            ids = [body["message"]["id"] for _, body in sent]
            assert len(set(ids)) == N
            for message_id in ids:
                r = await api.status(alpha.token, message_id)
                assert r.status_code == 200, (message_id, r.text)
                assert r.json()["message"]["id"] == message_id

            claimed = await claim_all(api, beta, N)
            assert [c["message"]["id"] for c in claimed] == ids  # exactly N, in send order
            assert [c["message"]["payload"]["messageId"] for c in claimed] == [
                f"m-{i}" for i in range(N)
            ]

            # Original keys still answer with their original 201 and create nothing.
            for i in (0, N // 2, N - 1):
                key, body = sent[i]
                r = await api.send(alpha, beta, text(f"m-{i}", f"message {i}"), key=key)
                assert (r.status_code, r.json()) == (201, body)
            r = await api.claim(beta, 60)
            assert (r.status_code, r.json()) == (200, {"delivery": None})
            for message_id in ids:
                r = await api.status(alpha.token, message_id)
                assert r.json()["carrier_status"] == "delivered"


async def test_sigkill_with_concurrent_sends_in_flight(env: dict[str, str], tmp_path: Path) -> None:
    async with ServerProcess(env, tmp_path) as server:
        await server.start()
        attempted: list[str] = []  # idempotency keys, also the payloads' messageId
        acknowledged: dict[str, dict[str, Any]] = {}
        unexpected: list[str] = []
        responses = 0

        with ExitStack() as held:
            async with client(server) as api:
                alpha, beta = await api.pair()
                # One send first starts beta's mailbox (which reads the views as it starts).
                attempted.append("flight-warmup")
                r = await api.send(alpha, beta, text("flight-warmup"), key="flight-warmup")
                assert r.status_code == 201, r.text
                acknowledged["flight-warmup"] = r.json()
                # The projection cannot keep up with a burst like this one; make that certain.
                held.enter_context(hold_views(env))

                async def sender(n: int) -> None:
                    nonlocal responses
                    for i in range(PER_SENDER):
                        key = f"flight-{n}-{i}"
                        attempted.append(key)
                        try:
                            r = await api.send(alpha, beta, text(key), key=key)
                        except httpx.TransportError:
                            return  # the server died under this request
                        responses += 1
                        if r.status_code == 201:
                            acknowledged[key] = r.json()
                        else:
                            unexpected.append(f"{key}: {r.status_code} {r.text}")
                        if responses == KILL_AFTER:
                            server.kill_now()  # mid-flight: other senders await their answers

                async with trio.open_nursery() as nursery:
                    for n in range(SENDERS):
                        nursery.start_soon(sender, n)
            await server.kill()
        assert not unexpected, unexpected
        assert len(acknowledged) >= KILL_AFTER + 1
        assert len(attempted) > len(acknowledged), "nothing was in flight at the kill"

        await server.start()
        async with client(server) as api:
            for key, body in acknowledged.items():
                r = await api.status(alpha.token, body["message"]["id"])
                assert r.status_code == 200, (key, r.text)

            claimed = await claim_all(api, beta, len(attempted))
            keys = [c["message"]["payload"]["messageId"] for c in claimed]
            assert len(set(keys)) == len(keys), "a send was committed twice"
            assert set(keys) <= set(attempted)
            assert len(acknowledged) <= len(claimed) <= len(attempted)
            by_key = {c["message"]["payload"]["messageId"]: c["message"] for c in claimed}
            for key, body in acknowledged.items():
                assert by_key[key] == body["message"]

            # Retrying every send with its key is exactly-once: committed ones replay,
            # lost ones are created now, and the total is one message per attempt.
            for key, body in acknowledged.items():
                r = await api.send(alpha, beta, text(key), key=key)
                assert (r.status_code, r.json()) == (201, body)
            lost = [key for key in attempted if key not in acknowledged]
            for key in lost:
                r = await api.send(alpha, beta, text(key), key=key)
                assert r.status_code == 201, (key, r.text)
                if key in by_key:
                    assert r.json()["message"]["id"] == by_key[key]["id"], key
            late = await claim_all(api, beta, len(attempted))
            late_keys = [c["message"]["payload"]["messageId"] for c in late]
            assert sorted(late_keys) == sorted(k for k in lost if k not in by_key)
            assert len(claimed) + len(late) == len(attempted)


def batch_items(to: Agent, n: int, size: int) -> list[dict[str, Any]]:
    """Batch ``n``'s sends, each keyed (and its payload's messageId) ``b<n>-<i>``."""
    return [
        {"to": to.address, "payload": text(f"b{n}-{i}"), "idempotency_key": f"b{n}-{i}"}
        for i in range(size)
    ]


async def test_sigkill_with_batches_in_flight(env: dict[str, str], tmp_path: Path) -> None:
    """Batch sends as the single ones above: an answered item survives, and the batch
    sent again after the restart makes each of its messages exactly once."""
    batches, size = 12, 25
    async with ServerProcess(env, tmp_path) as server:
        await server.start()
        answered: dict[str, dict[str, Any]] = {}  # item key -> its 201 body
        sent_batches = 0
        with ExitStack() as held:
            async with client(server) as api:
                alpha, beta = await api.pair()
                assert (await api.send(alpha, beta, text("warmup"))).status_code == 201
                held.enter_context(hold_views(env))

                async def batch(n: int) -> None:
                    nonlocal sent_batches
                    items = batch_items(beta, n, size)
                    try:
                        r = await api.post("/api/messages/batch", alpha.token, {"messages": items})
                    except httpx.TransportError:
                        return
                    assert r.status_code == 200, r.text
                    for i, result in enumerate(r.json()["results"]):
                        assert result["status"] == 201, result
                        answered[f"b{n}-{i}"] = result["body"]
                    sent_batches += 1
                    if sent_batches == 3:
                        server.kill_now()  # the other batches are on their way

                async with trio.open_nursery() as nursery:
                    for n in range(batches):
                        nursery.start_soon(batch, n)
            await server.kill()
        assert len(answered) >= 3 * size and len(answered) < batches * size

        await server.start()
        async with client(server) as api:
            for n in range(batches):  # every batch again, with the same item keys
                items = batch_items(beta, n, size)
                r = await api.post("/api/messages/batch", alpha.token, {"messages": items})
                for i, result in enumerate(r.json()["results"]):
                    assert result["status"] == 201, result
                    if f"b{n}-{i}" in answered:  # answered before the kill: the same answer
                        assert result["body"] == answered[f"b{n}-{i}"]
            claimed = await claim_all(api, beta, batches * size + 1)
            keys = [c["message"]["payload"]["messageId"] for c in claimed]
            assert sorted(keys) == sorted(
                ["warmup", *(f"b{n}-{i}" for n in range(batches) for i in range(size))]
            )
