"""``POST /api/messages/batch`` on both stores: each item answered as a single send with
its key would be, one item's refusal leaving the others alone, replays of the whole
batch and of one item, the limits, and many items committed in few transactions."""

from __future__ import annotations

from typing import Any

import attrs
import pytest

from atp.actors import Runtime
from atp.settings import Settings
from tests.support.helpers import Agent, Api, text

LIMIT = 120
BATCH_BYTES = 1_000_000


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return attrs.evolve(settings, batch_max_messages=LIMIT, batch_max_bytes=BATCH_BYTES)


def item(to: Agent | str, body: str = "hi", **extra: Any) -> dict[str, Any]:
    address = to if isinstance(to, str) else to.address
    return {"to": address, "payload": text(f"m-{body}", body), **extra}


async def batch(api: Api, sender: Agent, items: list[Any], key: str = "") -> list[Any]:
    answer = await api.post("/api/messages/batch", sender.token, {"messages": items}, key)
    assert answer.status_code == 200, answer.text
    results: list[Any] = answer.json()["results"]
    return results


async def inbox(api: Api, agent: Agent) -> list[str]:
    """The texts of every message the agent can claim, in the order claimed."""
    texts = []
    while "id" in (claim := (await api.claim(agent)).json()):  # else {"delivery": null}
        texts.append(claim["message"]["payload"]["parts"][0]["text"])
    return texts


async def inbox_size(api: Api, agent: Agent) -> int:
    return len(await inbox(api, agent))


async def test_each_item_is_answered_on_its_own(api: Api) -> None:
    alpha, beta = await api.pair()
    results = await batch(
        api,
        alpha,
        [
            item(beta, "one"),
            item("atp://agent/agt_nobody"),
            {"to": beta.address},
            {"to": beta.address, "payload": {"role": "ROLE_USER"}},
            "not an object",
            item(beta, "bad key", idempotency_key=" "),
            item(beta, "two"),
        ],
    )
    assert [r["status"] for r in results] == [201, 422, 422, 422, 422, 422, 201]
    codes = [r["body"].get("error", {}).get("code") for r in results]
    assert codes == [
        None,
        "recipient_not_found",
        "payload_required",
        "invalid_a2a_message",
        "invalid_request",
        "invalid_request",
        None,
    ]
    sent = [results[0]["body"], results[6]["body"]]
    for status in sent:
        assert status["carrier_status"] == "queued"
        stored = (await api.status(alpha.token, status["message"]["id"])).json()
        assert stored["message"] == status["message"]
    assert await inbox_size(api, beta) == 2  # the refused items sent nothing


async def test_a_batch_sent_again_answers_every_item_as_before(api: Api) -> None:
    alpha, beta = await api.pair()
    items = [item(beta, "one"), item("atp://agent/agt_nobody"), item(beta, "two")]
    first = await batch(api, alpha, items, key="batch-1")
    again = await batch(api, alpha, items, key="batch-1")
    assert again[0] == first[0] and again[2] == first[2]
    assert again[1]["status"] == 422  # errors are never stored: the item is tried again
    assert await inbox_size(api, beta) == 2


async def test_an_item_is_keyed_as_a_single_send(api: Api) -> None:
    alpha, beta = await api.pair()
    results = await batch(
        api, alpha, [item(beta, "one"), item(beta, "two", idempotency_key="mine")], key="b"
    )
    # Retried alone, each answers what the batch answered: the index's key, or its own.
    alone = await api.send(alpha, beta, text("m-one", "one"), key="b/0")
    assert alone.status_code == 201 and alone.json() == results[0]["body"]
    mine = await api.send(alpha, beta, text("m-two", "two"), key="mine")
    assert mine.json() == results[1]["body"]
    # The key of a sent item, reused for another message, is refused for that item only.
    reused = await batch(api, alpha, [item(beta, "other", idempotency_key="mine")], key="c")
    assert reused[0]["status"] == 409
    assert reused[0]["body"]["error"]["code"] == "idempotency_conflict"
    assert await inbox_size(api, beta) == 2


async def test_a_blocked_sender_is_refused_per_recipient(api: Api) -> None:
    alpha, beta = await api.pair()
    gamma = await api.agent(name="gamma")
    policy = {"effect": "block", "sender_agent_id": alpha.id}
    blocked = await api.put(f"/api/agents/{gamma.id}/sender_policies", gamma.token, policy)
    assert blocked.status_code in (200, 201), blocked.text
    results = await batch(api, alpha, [item(gamma), item(beta)])
    assert [r["body"]["carrier_status"] for r in results] == ["rejected", "queued"]


@pytest.mark.parametrize(
    "body",
    [{"messages": []}, {"messages": "x"}, {}, {"messages": [{"to": "x"}] * (LIMIT + 1)}],
)
async def test_a_batch_outside_the_limits_is_refused_whole(api: Api, body: Any) -> None:
    alpha = await api.agent()
    answer = await api.post("/api/messages/batch", alpha.token, body)
    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == "invalid_request"


async def test_a_batch_body_may_be_larger_than_a_single_sends(api: Api) -> None:
    alpha, beta = await api.pair()
    # Eight sends of 20,000 characters: 160 kB, over a single route's 128,000 bytes.
    items = [item(beta, f"{i}-" + "x" * 20_000) for i in range(8)]
    answer = await api.post("/api/messages/batch", alpha.token, {"messages": items})
    assert [r["status"] for r in answer.json()["results"]] == [201] * 8
    single = await api.send(alpha, beta, text(body="x" * 130_000))
    assert single.status_code == 413
    # Past ATP_BATCH_MAX_BYTES (BATCH_BYTES here) the batch is refused whole.
    items = [item(beta, f"{i}-" + "x" * 30_000) for i in range(LIMIT // 2)]
    answer = await api.post("/api/messages/batch", alpha.token, {"messages": items})
    assert answer.status_code == 413 and answer.json()["error"]["code"] == "unexpected_error"
    assert await inbox_size(api, beta) == 8


async def test_a_batch_needs_an_agent_key_and_an_idempotency_key(api: Api) -> None:
    alpha, beta = await api.pair()
    body = {"messages": [item(beta)]}
    without_key = await api.post("/api/messages/batch", alpha.token, body, key=None)
    assert without_key.json()["error"]["code"] == "idempotency_key_required"
    as_account = await api.post("/api/messages/batch", alpha.account_token, body)
    assert as_account.status_code in (401, 403)
    assert await inbox_size(api, beta) == 0


async def test_many_items_are_committed_in_few_transactions_in_order(
    api: Api, runtime: Runtime
) -> None:
    alpha, beta = await api.pair()
    before = runtime.context.journal.statistics().commits
    results = await batch(api, alpha, [item(beta, str(i)) for i in range(LIMIT)])
    assert [r["status"] for r in results] == [201] * LIMIT
    commits = runtime.context.journal.statistics().commits - before
    assert commits <= LIMIT // 4, commits  # the mailbox's batches, not one commit each
    assert await inbox(api, beta) == [str(i) for i in range(LIMIT)]  # in the batch's order


async def claimed(api: Api, agent: Agent, count: int) -> list[str]:
    return [(await api.claim(agent)).json()["id"] for _ in range(count)]


async def test_acks_are_answered_each_as_the_single_route_would(api: Api) -> None:
    alpha, beta = await api.pair()
    await batch(api, alpha, [item(beta, str(i)) for i in range(3)])
    first, second, third = await claimed(api, beta, 3)
    acks = [
        {"delivery_id": first, "status": "completed"},
        {"delivery_id": second, "status": "done"},
        {"delivery_id": "dlv_nope", "status": "accepted"},
        {"delivery_id": third, "status": "accepted", "idempotency_key": "third"},
        {"status": "completed"},
    ]
    answer = await api.post("/api/deliveries/acks", beta.token, {"acks": acks}, key="acks-1")
    results = answer.json()["results"]
    assert [r["status"] for r in results] == [201, 422, 404, 201, 422]
    assert results[0]["body"]["message_status"]["ack_status"] == "completed"
    assert results[1]["body"]["error"]["code"] == "invalid_ack_status"
    # Again: the recorded ones replay; alone through the single route, too.
    again = await api.post("/api/deliveries/acks", beta.token, {"acks": acks}, key="acks-1")
    assert again.json()["results"][0] == results[0]
    alone = await api.post(
        f"/api/deliveries/{third}/acks", beta.token, {"status": "accepted"}, key="third"
    )
    assert alone.json() == results[3]["body"]
    # A key the batch used, for another ACK: a conflict for that item only.
    other = [{"delivery_id": third, "status": "completed", "idempotency_key": "third"}]
    conflict = await api.post("/api/deliveries/acks", beta.token, {"acks": other})
    assert conflict.json()["results"][0]["body"]["error"]["code"] == "idempotency_conflict"
    status = (await api.status(alpha.token, results[3]["body"]["ack"]["message_id"])).json()
    assert status["ack_status"] == "accepted"


async def test_another_agents_delivery_is_not_found_for_that_item(api: Api) -> None:
    alpha, beta = await api.pair()
    await batch(api, alpha, [item(beta)])
    [delivery] = await claimed(api, beta, 1)
    acks = [{"delivery_id": delivery, "status": "completed"}]
    answer = await api.post("/api/deliveries/acks", alpha.token, {"acks": acks})
    assert answer.json()["results"][0]["status"] == 404
    mine = await api.post("/api/deliveries/acks", beta.token, {"acks": acks})
    assert mine.json()["results"][0]["status"] == 201
