"""Leases and ACKs through a real Hypercorn: contract §1.16-1.18 and §4.2-4.6.

Expiry is simulated with ``lease_seconds: 0`` (a lease that ends as it starts), never by sleeping.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import trio

from atp.actors import Runtime
from tests.support.helpers import Agent, Api, as_stored, text

MESSAGES = {
    "ack_status_required": "An ACK status is required.",
    "invalid_ack_status": "The ACK status is invalid.",
    "invalid_ack_transition": "The ACK transition is invalid.",
    "invalid_lease": "The requested delivery lease is invalid.",
    "lease_expired": "The delivery lease has expired.",
    "not_found": "The requested resource was not found.",
    "terminal_ack_status": "The message already has a terminal ACK status.",
}
EMPTY = (200, {"delivery": None})


def moment(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def answer(r: httpx.Response) -> tuple[int, Any]:
    return r.status_code, r.json()


async def rejects(
    runtime: Runtime, call: Awaitable[httpx.Response], status: int, code: str
) -> None:
    """``call`` answers the contract's error envelope and commits nothing."""
    before = runtime.ledger.last_committed
    r = await call
    assert answer(r) == (status, {"error": {"code": code, "message": MESSAGES[code]}})
    assert runtime.ledger.last_committed == before


async def burst(calls: list[Callable[[], Awaitable[httpx.Response]]]) -> list[httpx.Response]:
    """Run ``calls`` at once; their responses in completion order."""
    responses: list[httpx.Response] = []

    async def one(call: Callable[[], Awaitable[httpx.Response]]) -> None:
        responses.append(await call())

    async with trio.open_nursery() as nursery:
        for call in calls:
            nursery.start_soon(one, call)
    return responses


async def one_message(api: Api) -> tuple[Agent, Agent, str]:
    """Sender, recipient, and the id of one queued message between them."""
    alpha, beta = await api.pair()
    r = await api.send(alpha, beta)
    assert r.status_code == 201
    return alpha, beta, r.json()["message"]["id"]


async def claimed(api: Api, beta: Agent, lease_seconds: int | None = 60) -> dict[str, Any]:
    r = await api.claim(beta, lease_seconds)
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


def extend(api: Api, agent: Agent, delivery_id: str, body: Any) -> Awaitable[httpx.Response]:
    return api.post(f"/api/deliveries/{delivery_id}/extend", agent.token, body)


# -- claims ---------------------------------------------------------------------------------


async def test_claim_without_lease_seconds_leases_for_60_seconds(api: Api) -> None:
    _, beta, message_id = await one_message(api)
    before = datetime.now(UTC)
    claim = await claimed(api, beta, None)
    after = datetime.now(UTC)
    assert claim["message"]["id"] == message_id and claim["id"].startswith("dlv_")
    until = moment(claim["leased_until"])
    assert before + timedelta(seconds=60) <= until <= after + timedelta(seconds=60)


async def test_lease_zero_is_accepted_and_the_message_comes_back_with_a_new_delivery_id(
    api: Api,
) -> None:
    alpha, beta, message_id = await one_message(api)
    before = datetime.now(UTC)
    first = await claimed(api, beta, 0)
    assert before <= moment(first["leased_until"]) <= datetime.now(UTC)
    second = await claimed(api, beta, 0)
    assert second["message"]["id"] == message_id and second["id"] != first["id"]
    third = await claimed(api, beta, 60)
    assert third["id"] not in (first["id"], second["id"])
    status = (await api.status(alpha.token, message_id)).json()
    deliveries = [(d["id"], d["mode"], d["status"]) for d in status["deliveries"]]
    assert deliveries == [(c["id"], "polling", "leased") for c in (first, second, third)]
    assert status["carrier_status"] == "delivered"


async def test_while_a_message_is_leased_a_second_claim_gets_delivery_null(api: Api) -> None:
    _, beta, _ = await one_message(api)
    await claimed(api, beta)
    assert answer(await api.claim(beta)) == EMPTY
    assert answer(await api.claim(beta, 0)) == EMPTY


async def test_oldest_message_is_claimed_first(api: Api) -> None:
    alpha, beta = await api.pair()
    sent = [(await api.send(alpha, beta, text(f"m-{n}"))).json()["message"]["id"] for n in range(4)]
    order = [(await claimed(api, beta))["message"]["id"] for _ in range(4)]
    assert order == sent
    assert answer(await api.claim(beta)) == EMPTY


async def test_concurrent_claims_hand_each_message_to_exactly_one_claimer(api: Api) -> None:
    alpha, beta = await api.pair()
    sent = {(await api.send(alpha, beta, text(f"m-{n}"))).json()["message"]["id"] for n in range(5)}
    responses = await burst([lambda: api.claim(beta, 60) for _ in range(10)])
    won = [r.json() for r in responses if r.status_code == 201]
    assert sorted(answer(r) for r in responses if r.status_code != 201) == [EMPTY] * 5
    assert sorted(w["message"]["id"] for w in won) == sorted(sent)
    assert len({w["id"] for w in won}) == 5


# -- extend ---------------------------------------------------------------------------------


async def test_extend_adds_to_the_current_lease_end(api: Api) -> None:
    _, beta, _ = await one_message(api)
    before = datetime.now(UTC)
    claim = await claimed(api, beta, 60)
    after = datetime.now(UTC)
    r = await extend(api, beta, claim["id"], {"lease_seconds": 120})
    assert r.status_code == 200
    assert set(r.json()) == {"id", "leased_until", "message"}
    assert (r.json()["id"], r.json()["message"]) == (claim["id"], claim["message"])
    until = moment(r.json()["leased_until"])
    assert until - moment(claim["leased_until"]) == timedelta(seconds=120)
    assert before + timedelta(seconds=180) <= until <= after + timedelta(seconds=180)
    r = await extend(api, beta, claim["id"], {})  # default 60
    assert moment(r.json()["leased_until"]) - until == timedelta(seconds=60)
    r = await extend(api, beta, claim["id"], {"lease_seconds": 0})
    assert moment(r.json()["leased_until"]) - until == timedelta(seconds=60)


async def test_a_lease_has_no_upper_bound_short_of_the_calendar(api: Api, runtime: Runtime) -> None:
    # Contract §1.16: "No upper bound". Python's dates end with the year 9999.
    _, beta, _ = await one_message(api)
    century = 3_153_600_001  # one second more than a cap of 100 years we once had
    claim = await claimed(api, beta, century)
    assert moment(claim["leased_until"]) - datetime.now(UTC) > timedelta(seconds=century - 60)
    past_9999 = 10**12
    await rejects(
        runtime, extend(api, beta, claim["id"], {"lease_seconds": past_9999}), 422, "invalid_lease"
    )
    r = await extend(api, beta, claim["id"], {"lease_seconds": 200_000_000_000})  # year ~8500
    assert (r.status_code, moment(r.json()["leased_until"]).year > 8000) == (200, True)
    further = extend(api, beta, claim["id"], {"lease_seconds": 100_000_000_000})  # past 9999
    await rejects(runtime, further, 422, "invalid_lease")
    _, other, _ = await one_message(api)
    await rejects(runtime, api.claim(other, past_9999), 422, "invalid_lease")


async def test_concurrent_extends_both_apply(api: Api) -> None:
    alpha, beta, message_id = await one_message(api)
    claim = await claimed(api, beta, 60)
    by_60 = functools.partial(extend, api, beta, claim["id"], {"lease_seconds": 60})
    by_120 = functools.partial(extend, api, beta, claim["id"], {"lease_seconds": 120})
    responses = await burst([by_60, by_120])
    assert [r.status_code for r in responses] == [200, 200]
    [delivery] = (await api.status(alpha.token, message_id)).json()["deliveries"]
    extended = moment(delivery["leased_until"]) - moment(claim["leased_until"])
    assert extended == timedelta(seconds=180)


async def test_extend_of_an_expired_lease_is_409_lease_expired(api: Api, runtime: Runtime) -> None:
    _, beta, _ = await one_message(api)
    claim = await claimed(api, beta, 0)
    await rejects(runtime, extend(api, beta, claim["id"], {}), 409, "lease_expired")


async def test_extend_of_an_acked_delivery_is_422_invalid_lease(api: Api, runtime: Runtime) -> None:
    _, beta, _ = await one_message(api)
    claim = await claimed(api, beta, 60)
    assert (await api.ack(beta, claim["id"], "accepted")).status_code == 201
    await rejects(runtime, extend(api, beta, claim["id"], {}), 422, "invalid_lease")


# -- ACK preconditions ----------------------------------------------------------------------


async def test_ack_after_the_lease_lapsed_is_409_lease_expired(api: Api, runtime: Runtime) -> None:
    _, beta, _ = await one_message(api)
    claim = await claimed(api, beta, 0)
    for status in ("accepted", "completed", "failed", "rejected"):
        await rejects(runtime, api.ack(beta, claim["id"], status), 409, "lease_expired")


async def test_after_accepted_a_final_ack_works_on_a_lapsed_delivery(api: Api) -> None:
    alpha, beta, message_id = await one_message(api)
    lapsed = await claimed(api, beta, 0)
    current = await claimed(api, beta, 60)
    r = await api.ack(beta, lapsed["id"], "completed")
    assert (r.status_code, r.json()["error"]["code"]) == (409, "lease_expired")
    assert (await api.ack(beta, current["id"], "accepted")).status_code == 201
    r = await api.ack(beta, lapsed["id"], "completed", text("done"))
    assert r.status_code == 201, r.text
    ack = r.json()["ack"]
    assert (ack["delivery_id"], ack["status"], ack["payload"]) == (
        lapsed["id"],
        "completed",
        text("done"),
    )
    status = (await api.status(alpha.token, message_id)).json()
    assert (status["ack_status"], status["carrier_status"]) == ("completed", "delivered")
    assert status["terminal_at"] == ack["created_at"]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({}, "ack_status_required"),
        ({"payload": text()}, "ack_status_required"),
        ({"status": "done"}, "invalid_ack_status"),
        ({"status": "ACCEPTED"}, "invalid_ack_status"),
        ({"status": ""}, "invalid_ack_status"),
        ({"status": 5}, "invalid_ack_status"),
        ({"status": ["accepted"]}, "invalid_ack_status"),
    ],
)
async def test_ack_without_a_valid_status_is_422(
    api: Api, runtime: Runtime, body: dict[str, Any], code: str
) -> None:
    _, beta, _ = await one_message(api)
    claim = await claimed(api, beta, 60)
    call = api.post(f"/api/deliveries/{claim['id']}/acks", beta.token, body)
    await rejects(runtime, call, 422, code)


async def test_only_the_recipient_can_ack_or_extend_its_delivery(
    api: Api, runtime: Runtime
) -> None:
    alpha, beta, _ = await one_message(api)
    stranger = await api.agent()
    claim = await claimed(api, beta, 60)
    for other in (alpha, stranger):
        await rejects(runtime, api.ack(other, claim["id"], "completed"), 404, "not_found")
        await rejects(runtime, extend(api, other, claim["id"], {}), 404, "not_found")
    assert (await api.ack(beta, claim["id"], "completed")).status_code == 201


# -- ACK transitions ------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["accepted", "completed", "failed", "rejected"])
async def test_first_ack_is_recorded_and_the_message_is_never_claimable_again(
    api: Api, status: str
) -> None:
    alpha, beta, message_id = await one_message(api)
    claim = await claimed(api, beta, 60)
    r = await api.ack(beta, claim["id"], status)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["ack"]["status"] == status and body["ack"]["payload"] is None
    assert body["ack"]["id"].startswith("ack_") and body["ack"]["message_id"] == message_id
    ms = body["message_status"]
    assert (ms["ack_status"], ms["carrier_status"]) == (status, "delivered")
    assert (ms["terminal_at"] is None) == (status == "accepted")
    [delivery] = ms["deliveries"]
    assert (delivery["status"], delivery["delivered_at"]) == (
        "delivered",
        body["ack"]["created_at"],
    )
    assert as_stored((await api.status(alpha.token, message_id)).json()) == ms
    assert answer(await api.claim(beta)) == EMPTY
    assert answer(await api.claim(beta, 0)) == EMPTY


@pytest.mark.parametrize(
    ("first", "second", "outcome"),
    [
        ("accepted", "completed", 201),
        ("accepted", "failed", 201),
        ("accepted", "accepted", "invalid_ack_transition"),
        ("accepted", "rejected", "invalid_ack_transition"),
        ("completed", "accepted", "terminal_ack_status"),
        ("completed", "completed", "terminal_ack_status"),
        ("completed", "failed", "terminal_ack_status"),
        ("completed", "rejected", "terminal_ack_status"),
        ("failed", "completed", "terminal_ack_status"),
        ("rejected", "accepted", "terminal_ack_status"),
    ],
)
async def test_ack_transition_table(
    api: Api, runtime: Runtime, first: str, second: str, outcome: int | str
) -> None:
    alpha, beta, message_id = await one_message(api)
    claim = await claimed(api, beta, 60)
    assert (await api.ack(beta, claim["id"], first)).status_code == 201
    if isinstance(outcome, str):
        await rejects(runtime, api.ack(beta, claim["id"], second), 409, outcome)
        expected = first
    else:
        r = await api.ack(beta, claim["id"], second)
        assert r.status_code == outcome, r.text
        expected = second
    status = (await api.status(alpha.token, message_id)).json()
    assert status["ack_status"] == expected
    assert answer(await api.claim(beta)) == EMPTY
