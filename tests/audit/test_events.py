"""The events feed, its stream and message histories: who sees what, and that every
record hashes to its leaf and is proven in the signed tree."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import httpx
import pytest
import rfc8785
import trio

from atp.actors import Runtime
from tests.audit.test_audit_api import newest_checkpoint
from tests.support.helpers import Api, text
from tests.support.rfc9162 import verify_inclusion


@pytest.fixture(params=["inline", "process"])
def follower(request: pytest.FixtureRequest) -> str:
    """The log written in the server's process and in its own."""
    mode: str = request.param
    return mode


async def page_all(api: Api, token: str, **params: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    after = None
    while True:
        query = {**params, "limit": 3, **({"after": after} if after else {})}
        r = await api.client.get(
            "/api/events", params=query, headers={"authorization": f"Bearer {token}"}
        )
        assert r.status_code == 200, r.text
        body = r.json()
        found += body["events"]
        if body["next"] is None:
            return found
        after = body["next"]


async def cast(api: Api) -> dict[str, Any]:
    """Two accounts: alpha (account A) writes to beta (account B); gamma, also in A,
    only writes to itself; delta is in a third account."""
    a, b, c = [await api.signup(name) for name in "ABC"]
    alpha, gamma = await api.agent(a, "alpha"), await api.agent(a, "gamma")
    beta, delta = await api.agent(b, "beta"), await api.agent(c, "delta")
    r = await api.send(alpha, beta, text("m-1", "for beta only"))
    assert r.status_code == 201, r.text
    message_id = r.json()["message"]["id"]
    claimed = await api.claim(beta)
    delivery = claimed.json()["id"]
    assert (await api.ack(beta, delivery, "completed")).status_code == 201
    r = await api.send(gamma, gamma, text("m-2", "to myself"))
    assert r.status_code == 201, r.text
    return {
        "accounts": (a, b, c), "agents": (alpha, beta, gamma, delta), "message": message_id,
    }  # fmt: skip


def about(events: list[dict[str, Any]], message_id: str) -> list[str]:
    return [e["record"]["type"] for e in events if e["record"]["aggregate"]["id"] == message_id]


async def test_each_principal_sees_exactly_its_business(api: Api) -> None:
    world = await cast(api)
    a, b, c = world["accounts"]
    alpha, beta, gamma, delta = world["agents"]
    message = world["message"]
    kinds = ["message.sent", "delivery.leased", "ack.recorded"]
    for token in (alpha.token, beta.token, a, b):
        assert about(await page_all(api, token), message) == kinds
    for token in (gamma.token, delta.token, c):
        assert about(await page_all(api, token), message) == []
    # An agent sees its own agent and never another's; an account all of its agents.
    seen_by_gamma = {e["record"]["aggregate"]["id"] for e in await page_all(api, gamma.token)}
    assert gamma.id in seen_by_gamma and alpha.id not in seen_by_gamma
    seen_by_a = {e["record"]["aggregate"]["id"] for e in await page_all(api, a)}
    assert {alpha.id, gamma.id} <= seen_by_a and delta.id not in seen_by_a


async def test_filters_narrow_what_the_caller_may_see(api: Api) -> None:
    world = await cast(api)
    a = world["accounts"][0]
    gamma = world["agents"][2]
    sent = await page_all(api, a, type="message.sent")
    assert {e["record"]["type"] for e in sent} == {"message.sent"} and len(sent) == 2
    of_message = await page_all(api, a, message=world["message"])
    assert [e["record"]["type"] for e in of_message] == [
        "message.sent", "delivery.leased", "ack.recorded",
    ]  # fmt: skip
    of_gamma = await page_all(api, a, agent=gamma.id)
    assert of_gamma and all(gamma.id in json.dumps(e["record"]) for e in of_gamma)
    r = await api.client.get(
        "/api/events", params={"limit": 0}, headers={"authorization": f"Bearer {a}"}
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_request"
    assert (await api.client.get("/api/events")).status_code == 401


async def test_every_record_hashes_to_its_leaf_and_is_proven(api: Api, runtime: Runtime) -> None:
    world = await cast(api)
    _, size, root, _ = await newest_checkpoint(api, runtime)
    events = await page_all(api, world["accounts"][0])
    assert events
    for event in events:
        leaf = hashlib.sha256(b"\x00" + rfc8785.dumps(event["record"])).digest()
        assert base64.b64encode(leaf).decode() == event["leaf_hash"]
        assert event["record"]["index"] == event["index"]
        r = await api.client.get(
            "/api/audit/proofs/inclusion", params={"index": event["index"], "size": size}
        )
        hashes = [base64.b64decode(h) for h in r.json()["hashes"]]
        assert verify_inclusion(event["index"], size, leaf, hashes, root)


async def test_a_history_tells_the_message_in_order(api: Api) -> None:
    world = await cast(api)
    alpha, beta, gamma, delta = world["agents"]
    path = f"/api/messages/{world['message']}/history"
    r = await api.get(path, beta.token)
    assert r.status_code == 200, r.text
    history = r.json()["history"]
    assert [h["record"]["type"] for h in history] == [
        "message.sent", "delivery.leased", "ack.recorded",
    ]  # fmt: skip
    assert history[0]["description"].startswith(f"sent by {alpha.id} to {beta.id}")
    assert history[2]["description"].startswith(f"ACK completed by {beta.id}")
    for outsider in (gamma.token, delta.token, world["accounts"][2]):
        r = await api.get(path, outsider)
        assert r.status_code == 404, r.text


async def read_stream(
    client: httpx.AsyncClient, token: str, count: int, last_id: str | None = None
) -> list[tuple[str, dict[str, Any]]]:
    """The first ``count`` records of the stream (id, event)."""
    headers = {"authorization": f"Bearer {token}"}
    if last_id is not None:
        headers["last-event-id"] = last_id
    got: list[tuple[str, dict[str, Any]]] = []
    with trio.fail_after(10):
        async with client.stream("GET", "/api/events/stream", headers=headers) as r:
            assert r.status_code == 200
            event_id = None
            async for line in r.aiter_lines():
                if line.startswith("id: "):
                    event_id = line[4:]
                elif line.startswith("data: "):
                    assert event_id is not None
                    got.append((event_id, json.loads(line[6:])))
                    if len(got) == count:
                        return got
    return got


async def test_the_stream_resumes_with_nothing_lost_or_repeated(api: Api) -> None:
    world = await cast(api)
    token = world["accounts"][0]
    everything = await page_all(api, token)
    first = await read_stream(api.client, token, 4)
    assert [e for _, e in first] == everything[:4]
    rest = await read_stream(api.client, token, len(everything) - 4, first[-1][0])
    assert [e for _, e in first + rest] == everything
    # And what happens next arrives live.
    alpha, beta, _, _ = world["agents"]

    async def send_later() -> None:
        await trio.sleep(0.2)
        assert (await api.send(alpha, beta, text("m-3"))).status_code == 201

    async with trio.open_nursery() as nursery:
        nursery.start_soon(send_later)
        live = await read_stream(api.client, token, 1, rest[-1][0])
    assert live[0][1]["record"]["type"] in ("message.sent", "idempotency.recorded")
    assert int(live[0][0]) > int(rest[-1][0])
