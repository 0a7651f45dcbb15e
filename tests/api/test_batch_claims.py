"""``POST /api/inbox/claims`` with ``max``: up to that many messages, oldest first, each
on its own lease, answered as ``{"deliveries": [...]}``; without ``max`` the reference's
one-message shape. Both stores."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs
import pytest
import trio
from trio.testing import MockClock

from atp.settings import Settings
from tests.support.helpers import Agent, Api, text
from tests.support.mock_clock import open_carrier

LIMIT = 50


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return attrs.evolve(settings, batch_max_messages=LIMIT)


async def claim_many(
    api: Api, agent: Agent, most: Any, key: str = "", **extra: Any
) -> tuple[int, Any]:
    r = await api.post("/api/inbox/claims", agent.token, {"max": most, **extra}, key)
    return r.status_code, r.json()


async def send_texts(api: Api, sender: Agent, to: Agent, words: list[str]) -> None:
    for word in words:
        assert (await api.send(sender, to, text(f"m-{word}", word))).status_code == 201


def words(claims: list[dict[str, Any]]) -> list[str]:
    return [c["message"]["payload"]["parts"][0]["text"] for c in claims]


async def test_max_claims_up_to_that_many_oldest_first(api: Api) -> None:
    alpha, beta = await api.pair()
    await send_texts(api, alpha, beta, ["one", "two", "three", "four", "five"])
    status, body = await claim_many(api, beta, 3, lease_seconds=30)
    assert status == 201 and list(body) == ["deliveries"]
    first = body["deliveries"]
    assert words(first) == ["one", "two", "three"]
    assert len({c["id"] for c in first}) == 3
    for claim in first:  # each its own lease, shaped as a single claim
        assert set(claim) == {"id", "leased_until", "message"}
        shown = (await api.status(alpha.token, claim["message"]["id"])).json()
        [delivery] = shown["deliveries"]
        assert delivery["id"] == claim["id"] and delivery["status"] == "leased"
        assert delivery["leased_until"] == claim["leased_until"]
    status, body = await claim_many(api, beta, 3)
    assert status == 201 and words(body["deliveries"]) == ["four", "five"]
    assert await claim_many(api, beta, 3) == (200, {"deliveries": []})
    # Each delivery is ACKed as a single claim's is.
    assert (await api.ack(beta, first[0]["id"], "completed")).status_code == 201


async def test_without_max_the_answer_keeps_the_reference_shape(api: Api) -> None:
    alpha, beta = await api.pair()
    await send_texts(api, alpha, beta, ["one", "two"])
    single = await api.claim(beta)
    assert single.status_code == 201 and set(single.json()) == {"id", "leased_until", "message"}
    status, body = await claim_many(api, beta, 1)
    assert status == 201 and words(body["deliveries"]) == ["two"]
    assert (await api.claim(beta)).json() == {"delivery": None}


@pytest.mark.parametrize("most", [0, -1, "3", 1.5, True, None, LIMIT + 1])
async def test_a_bad_max_is_refused_and_claims_nothing(api: Api, most: Any) -> None:
    alpha, beta = await api.pair()
    await send_texts(api, alpha, beta, ["one"])
    r = await api.post("/api/inbox/claims", beta.token, {"max": most})
    if most is None:  # JSON null: as if absent
        assert r.status_code == 201 and "id" in r.json()
        return
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_request"
    status, body = await claim_many(api, beta, 5)
    assert status == 201 and words(body["deliveries"]) == ["one"]


async def test_a_batch_claim_sent_again_answers_the_same(api: Api) -> None:
    alpha, beta = await api.pair()
    await send_texts(api, alpha, beta, ["one", "two", "three"])
    first = await claim_many(api, beta, 2, key="claims-1")
    assert await claim_many(api, beta, 2, key="claims-1") == first
    status, body = await claim_many(api, beta, 2, key="claims-1", lease_seconds=5)
    assert status == 409 and body["error"]["code"] == "idempotency_conflict"
    status, body = await claim_many(api, beta, 5)
    assert words(body["deliveries"]) == ["three"]  # the replays claimed nothing more


async def test_concurrent_batch_claims_never_share_a_message(api: Api) -> None:
    alpha, beta = await api.pair()
    sent = 60
    items = [{"to": beta.address, "payload": text(f"m-{i}", str(i))} for i in range(sent)]
    r = await api.post("/api/messages/batch", alpha.token, {"messages": items[:LIMIT]})
    assert r.status_code == 200
    r = await api.post("/api/messages/batch", alpha.token, {"messages": items[LIMIT:]})
    assert r.status_code == 200
    claimed: list[list[str]] = []

    async def claimer() -> None:
        mine: list[str] = []
        while True:
            _, body = await claim_many(api, beta, 7)
            if not body["deliveries"]:
                break
            mine.extend(words(body["deliveries"]))
        claimed.append(mine)

    async with trio.open_nursery() as nursery:
        for _ in range(6):
            nursery.start_soon(claimer)
    every = [word for mine in claimed for word in mine]
    assert sorted(every, key=int) == [str(i) for i in range(sent)]  # each exactly once
    for mine in claimed:  # each claimer saw its share oldest first
        assert mine == sorted(mine, key=int)


async def test_a_waiting_batch_claim_answers_with_the_first_message(
    tmp_path: Path, clock: MockClock
) -> None:
    async with open_carrier(Settings(data_dir=tmp_path / "var", port=0)) as (api, _):
        alpha, beta = await api.pair()
        got: dict[str, Any] = {}

        async def wait_for_it() -> None:
            got["answer"] = await claim_many(api, beta, 10, wait_seconds=10)
            got["at"] = trio.current_time()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(wait_for_it)
            await trio.sleep(3)
            await send_texts(api, alpha, beta, ["one"])
            sent = trio.current_time()
        status, body = got["answer"]
        assert status == 201 and words(body["deliveries"]) == ["one"]
        assert got["at"] - sent < 1  # on the mock clock: at the send, not at 10 s


async def test_a_waiting_batch_claim_answers_none_when_the_time_is_up(api: Api) -> None:
    _, beta = await api.pair()
    assert await claim_many(api, beta, 10, wait_seconds=1) == (200, {"deliveries": []})
