"""Idempotency-Key semantics of contract §2.6 through a real Hypercorn: replay, conflict, scope,
no caching of errors, concurrent duplicates, and no plaintext secret in the stored record."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
import trio

from atp.actors import MailboxActor, Runtime
from tests.api.test_sessions import opened, turn
from tests.support.helpers import Agent, Api, text

CONFLICT = {
    "error": {
        "code": "idempotency_conflict",
        "message": "The idempotency key was already used with a different request body.",
    }
}
IN_PROGRESS = {
    "error": {
        "code": "idempotency_in_progress",
        "message": "The idempotency key is already processing.",
    }
}


def answer(r: httpx.Response) -> tuple[int, Any]:
    return r.status_code, r.json()


async def ledger_states(runtime: Runtime) -> list[tuple[str, bytes]]:
    """Every stored event of the ledger, raw: (topic, state bytes)."""
    recorder = runtime.ledger.app.recorder
    rows = await runtime.ledger.bridge.run(lambda: recorder.select_notifications(1, 10_000))
    return [(row.topic, bytes(row.state)) for row in rows]


@pytest.fixture
def looked_up(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """The ids of every idempotency record the ledger is asked for from here on."""
    asked: list[object] = []
    get_many = runtime.ledger.get_many

    async def counting(kind: Any, ids: Any) -> Any:
        asked.extend(ids)
        return await get_many(kind, ids)

    monkeypatch.setattr(runtime.ledger, "get_many", counting)
    return asked


async def burst(n: int, call: Callable[[], Awaitable[httpx.Response]]) -> list[httpx.Response]:
    """``n`` copies of ``call`` at once; their responses in completion order."""
    responses: list[httpx.Response] = []

    async def one() -> None:
        responses.append(await call())

    async with trio.open_nursery() as nursery:
        for _ in range(n):
            nursery.start_soon(one)
    return responses


# -- replay ---------------------------------------------------------------------------------


async def test_send_replay_returns_the_original_201_after_the_message_was_claimed_and_acked(
    api: Api, runtime: Runtime
) -> None:
    alpha, beta = await api.pair()
    first = await api.send(alpha, beta, key="send-1")
    assert first.status_code == 201
    claimed = (await api.claim(beta)).json()
    assert (await api.ack(beta, claimed["id"], "completed")).status_code == 201

    before = runtime.ledger.last_committed
    replay = await api.send(alpha, beta, key="send-1")
    assert answer(replay) == answer(first)
    assert replay.content == first.content  # the stored bytes, as first sent
    assert replay.headers["content-type"] == first.headers["content-type"] == "application/json"
    assert replay.json()["carrier_status"] == "queued" and replay.json()["ack_status"] is None
    assert runtime.ledger.last_committed == before
    now = (await api.status(alpha.token, first.json()["message"]["id"])).json()
    assert (now["carrier_status"], now["ack_status"]) == ("delivered", "completed")
    assert answer(await api.claim(beta)) == (200, {"delivery": None})


async def test_empty_claim_replay_stays_200_delivery_null_after_a_message_arrives(
    api: Api,
) -> None:
    alpha, beta = await api.pair()
    assert answer(await api.claim(beta, key="claim-1")) == (200, {"delivery": None})
    sent = (await api.send(alpha, beta)).json()
    assert answer(await api.claim(beta, key="claim-1")) == (200, {"delivery": None})
    fresh = await api.claim(beta, key="claim-2")
    assert fresh.status_code == 201
    assert fresh.json()["message"]["id"] == sent["message"]["id"]


async def test_claim_replay_returns_the_same_delivery_after_its_lease_lapsed(api: Api) -> None:
    alpha, beta = await api.pair()
    await api.send(alpha, beta)
    first = await api.claim(beta, 0, key="claim-0")
    assert first.status_code == 201
    assert answer(await api.claim(beta, 0, key="claim-0")) == answer(first)
    again = await api.claim(beta, 0, key="claim-1")
    assert again.status_code == 201 and again.json()["id"] != first.json()["id"]


async def test_ack_replay_returns_the_original_201_not_terminal_ack_status(api: Api) -> None:
    alpha, beta = await api.pair()
    await api.send(alpha, beta)
    delivery = (await api.claim(beta)).json()["id"]
    first = await api.ack(beta, delivery, "completed", key="ack-1")
    assert first.status_code == 201
    assert answer(await api.ack(beta, delivery, "completed", key="ack-1")) == answer(first)
    assert (await api.ack(beta, delivery, "completed", key="ack-2")).json()["error"]["code"] == (
        "terminal_ack_status"
    )


async def test_a_lone_send_is_not_looked_up_and_its_replay_leaves_no_second_message(
    api: Api, looked_up: list[object], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A lone command is handled before its key is looked up: the commit proves the key
    new. A replay is caught by its refused commit; the mailbox forgets the second try
    (rehydrates) and answers from the record; for a while after, it looks keys up first."""
    alpha, beta = await api.pair()
    looked_up.clear()
    rehydrated: list[str] = []
    rehydrate = MailboxActor.rehydrate

    async def counting_rehydrate(actor: MailboxActor) -> None:
        rehydrated.append(actor.agent_id)
        await rehydrate(actor)

    monkeypatch.setattr(MailboxActor, "rehydrate", counting_rehydrate)
    first = await api.send(alpha, beta, key="lone-1")
    assert first.status_code == 201 and looked_up == []
    rehydrated.clear()  # the mailbox started for this send

    assert answer(await api.send(alpha, beta, key="lone-1")) == answer(first)
    assert (len(looked_up), rehydrated) == (1, [beta.id])
    assert answer(await api.send(alpha, beta, key="lone-1")) == answer(first)
    assert (len(looked_up), rehydrated) == (2, [beta.id])  # looked up first this time

    claimed = await api.claim(beta)
    assert claimed.json()["message"]["id"] == first.json()["message"]["id"]
    assert answer(await api.claim(beta)) == (200, {"delivery": None})


async def test_agent_registration_replay_returns_the_same_plaintext_token(
    api: Api, runtime: Runtime
) -> None:
    account = await api.signup()
    body = {"display_name": "Alpha"}
    first = await api.post("/api/agents", account, body, key="agent-1")
    assert first.status_code == 201
    before = runtime.ledger.last_committed
    replay = await api.post("/api/agents", account, body, key="agent-1")
    assert answer(replay) == answer(first)
    assert runtime.ledger.last_committed == before
    agent = Agent(first.json()["id"], "", first.json()["agent_api_key"]["token"], account)
    r = await api.claim(agent)
    assert answer(r) == (200, {"delivery": None})  # the replayed token still authenticates
    # The replay created no agent: a free account still has room for exactly one more.
    assert (await api.post("/api/agents", account, body, key="agent-2")).status_code == 201
    r = await api.post("/api/agents", account, body, key="agent-3")
    assert (r.status_code, r.json()["error"]["code"]) == (422, "plan_limit_exceeded")


# -- conflict and canonical form ------------------------------------------------------------


async def test_same_key_with_a_different_request_is_409_idempotency_conflict(
    api: Api, runtime: Runtime
) -> None:
    alpha, beta = await api.pair()
    assert (await api.send(alpha, beta, text("one"), key="k")).status_code == 201
    assert (await api.claim(beta, 60, key="k")).status_code == 201
    before = runtime.ledger.last_committed
    conflicts = [
        await api.send(alpha, beta, text("two"), key="k"),
        await api.claim(beta, 61, key="k"),
        await api.claim(beta, key="k"),  # a defaulted field is still a different body
        await api.client.post(
            "/api/inbox/claims?x=1",
            json={"lease_seconds": 60},
            headers=api.headers(beta.token, "k"),
        ),
    ]
    for r in conflicts:
        assert answer(r) == (409, CONFLICT)
    assert runtime.ledger.last_committed == before


async def test_json_key_order_and_whitespace_do_not_change_the_request(api: Api) -> None:
    alpha, beta = await api.pair()
    payload = {"messageId": "m-1", "role": "ROLE_USER", "parts": [{"text": "hi", "metadata": {}}]}
    compact = json.dumps({"to": beta.address, "payload": payload}, separators=(",", ":"))
    reordered = {"payload": dict(reversed(payload.items())), "to": beta.address}
    spaced = "\n  " + json.dumps(reordered, indent="\t", separators=(" ,\r\n", " :  ")) + " \n"
    assert compact.encode() != spaced.encode()
    headers = {**api.headers(alpha.token, "order"), "content-type": "application/json"}
    first = await api.client.post("/api/messages", content=compact.encode(), headers=headers)
    assert first.status_code == 201
    replay = await api.client.post("/api/messages", content=spaced.encode(), headers=headers)
    assert answer(replay) == answer(first)


# -- scope ----------------------------------------------------------------------------------


async def test_same_key_from_two_agents_does_not_collide(api: Api) -> None:
    alpha, beta = await api.pair()
    a = await api.send(alpha, beta, key="shared")
    b = await api.send(beta, alpha, key="shared")
    assert (a.status_code, b.status_code) == (201, 201)
    assert a.json()["message"]["id"] != b.json()["message"]["id"]
    assert b.json()["message"]["from"] == beta.address


async def test_same_key_on_two_routes_does_not_collide(api: Api) -> None:
    alpha, beta = await api.pair()
    sent = await api.send(alpha, beta, key="shared")
    claimed = await api.claim(beta, key="shared")
    self_sent = await api.send(beta, beta, key="shared")
    assert (sent.status_code, claimed.status_code, self_sent.status_code) == (201, 201, 201)
    assert claimed.json()["message"]["id"] == sent.json()["message"]["id"]
    acked = await api.ack(beta, claimed.json()["id"], "completed", key="shared")
    assert acked.status_code == 201


# -- errors are not cached ------------------------------------------------------------------


async def test_an_error_does_not_use_up_the_key(api: Api) -> None:
    alpha, beta = await api.pair()
    r = await api.send(alpha, "atp://agent/agt_nope", key="retry")
    assert (r.status_code, r.json()["error"]["code"]) == (422, "recipient_not_found")
    r = await api.send(alpha, beta, key="retry")  # same key, now a different (valid) body
    assert r.status_code == 201
    assert answer(await api.send(alpha, beta, key="retry")) == answer(r)

    r = await api.claim(beta, -1, key="retry-claim")
    assert (r.status_code, r.json()["error"]["code"]) == (422, "invalid_lease")
    assert (await api.claim(beta, 60, key="retry-claim")).status_code == 201


async def test_a_409_is_not_replayed_when_the_same_request_is_retried(api: Api) -> None:
    alpha, beta = await api.pair()
    await api.send(alpha, beta)
    lapsed = (await api.claim(beta, 0)).json()["id"]
    r = await api.ack(beta, lapsed, "completed", key="ack")
    assert (r.status_code, r.json()["error"]["code"]) == (409, "lease_expired")
    current = (await api.claim(beta, 60)).json()["id"]
    assert (await api.ack(beta, current, "accepted")).status_code == 201
    # Once accepted, a completed ACK is allowed on any delivery: the retry is re-evaluated.
    r = await api.ack(beta, lapsed, "completed", key="ack")
    assert (r.status_code, r.json()["ack"]["status"]) == (201, "completed")


# -- concurrency ----------------------------------------------------------------------------


async def test_concurrent_identical_sends_create_exactly_one_message(api: Api) -> None:
    alpha, beta = await api.pair()
    responses = await burst(8, lambda: api.send(alpha, beta, text("once"), key="burst"))
    created = [r for r in responses if r.status_code == 201]
    assert created, [answer(r) for r in responses]
    assert all(answer(r) == answer(created[0]) for r in created)
    assert all(answer(r) == (409, IN_PROGRESS) for r in responses if r.status_code != 201)
    message_id = created[0].json()["message"]["id"]
    first = await api.claim(beta)
    assert (first.status_code, first.json()["message"]["id"]) == (201, message_id)
    assert answer(await api.claim(beta)) == (200, {"delivery": None})
    status = (await api.status(alpha.token, message_id)).json()
    assert [d["id"] for d in status["deliveries"]] == [first.json()["id"]]


async def test_concurrent_identical_claims_hand_out_one_delivery(api: Api) -> None:
    alpha, beta = await api.pair()
    for n in range(3):
        await api.send(alpha, beta, text(f"m-{n}"))
    responses = await burst(8, lambda: api.claim(beta, 60, key="claim-burst"))
    created = [r for r in responses if r.status_code == 201]
    assert created and all(answer(r) == answer(created[0]) for r in created)
    assert all(r.status_code in (201, 409) for r in responses)  # 409: see the test below
    # Only one of the three messages was handed out: the other two are still claimable.
    others = {(await api.claim(beta)).json()["message"]["id"] for _ in range(2)}
    assert created[0].json()["message"]["id"] not in others and len(others) == 2


@pytest.mark.parametrize("route", ["/api/inbox/claims", "/api/agents"])
async def test_concurrent_duplicates_on_plain_flow_routes_all_get_the_same_response(
    api: Api, route: str
) -> None:
    alpha, beta = await api.pair()
    await api.send(alpha, beta)
    token = beta.token if route == "/api/inbox/claims" else await api.signup()
    responses = await burst(8, lambda: api.post(route, token, {}, key="plain-burst"))
    assert [answer(r) for r in responses] == [answer(responses[0])] * 8
    assert responses[0].status_code == 201


# -- stored record --------------------------------------------------------------------------


async def test_stored_records_do_not_contain_plaintext_secrets(api: Api, runtime: Runtime) -> None:
    account = await api.signup()
    registered = (await api.post("/api/agents", account, {}, key="reg")).json()
    agent_id = registered["id"]
    rotated = (await api.post(f"/api/agents/{agent_id}/keys", account, {}, key="rot")).json()
    token = rotated["token"]
    url = {"url": "https://8.8.8.8/atp/webhook"}
    hook = await api.put(f"/api/agents/{agent_id}/webhook_endpoint", token, url, key="hook")
    assert hook.status_code == 200
    secrets = [
        registered["agent_api_key"]["token"],
        token,
        hook.json()["webhook_endpoint"]["endpoint_secret"],
    ]
    assert all(len(s) > 40 for s in secrets)
    # Each replay still shows its secret, so the ledger keeps them, but never in clear.
    assert (await api.post("/api/agents", account, {}, key="reg")).json() == registered
    assert (await api.post(f"/api/agents/{agent_id}/keys", account, {}, key="rot")).json() == (
        rotated
    )
    states = await ledger_states(runtime)
    assert sum("IdempotencyRecord" in topic for topic, _ in states) == 3
    for secret in secrets:
        for form in (secret.encode(), secret.split("_", 1)[1].encode()):
            assert not any(form in state for _, state in states)


async def test_a_session_turn_looks_its_key_up_once(api: Api, looked_up: list[object]) -> None:
    """The session actor looks the key up; the mailbox it lends the turn to does not again
    (the gate knows the running request has no stored answer)."""
    alpha, _, session_id = await opened(api)
    looked_up.clear()
    assert (await turn(api, alpha, session_id, "once")).status_code == 201
    assert len(looked_up) == len(set(looked_up)) == 1
