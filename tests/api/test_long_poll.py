"""Long-poll claims: ``wait_seconds`` holds a claim open until a message is claimable.

The mailbox wakes the waiting claim after its commits and lease ends; nothing polls.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import trio
from trio.testing import MockClock

from atp.actors import Runtime
from atp.settings import Settings
from tests.support.helpers import Api
from tests.support.mock_clock import open_carrier


async def claim(
    api: Api, agent_token: str, body: dict[str, int], key: str = ""
) -> tuple[int, dict[str, Any]]:
    r = await api.post("/api/inbox/claims", agent_token, body, key)
    return r.status_code, r.json()


async def test_a_waiting_claim_is_woken_by_a_send(tmp_path: Path, clock: MockClock) -> None:
    async with open_carrier(Settings(data_dir=tmp_path / "var", port=0)) as (api, _):
        alpha, beta = await api.pair()
        got: dict[str, float] = {}

        async def wait_for_it() -> None:
            status, body = await claim(api, beta.token, {"wait_seconds": 10})
            got["at"] = trio.current_time()
            assert status == 201 and body["message"]["from"] == alpha.address

        async with trio.open_nursery() as nursery:
            nursery.start_soon(wait_for_it)
            await trio.sleep(3)
            await api.send(alpha, beta)
            sent = trio.current_time()
        # On the mock clock: answered at the send's moment, not at its 10 s deadline.
        assert got["at"] - sent < 1


async def test_a_waiting_claim_answers_null_when_the_time_is_up(api: Api) -> None:
    alpha, beta = await api.pair()
    status, body = await claim(api, beta.token, {"wait_seconds": 1}, key="long-1")
    assert (status, body) == (200, {"delivery": None})
    await api.send(alpha, beta)
    # The answer was stored once, at the end: a retry with the key replays it, although
    # a claim run again would now take the message.
    assert await claim(api, beta.token, {"wait_seconds": 1}, key="long-1") == (200, body)
    assert (await api.claim(beta)).status_code == 201


async def test_a_send_and_a_lease_end_wake_waiting_claims_on_both_stores(
    api: Api, runtime: Runtime
) -> None:
    """The wake-ups above, through each store's journal, on the real clock (bounded only
    by a generous guard: how soon is the bench's business, ``ops/bench --long-poll``)."""
    alpha, beta = await api.pair()
    results: list[tuple[int, dict[str, Any]]] = []

    async def wait_for_it() -> None:
        results.append(await claim(api, beta.token, {"wait_seconds": 60, "lease_seconds": 1}))

    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(wait_for_it)
            while beta.id not in runtime.context.arrivals._events:  # noqa: ASYNC110 (the claim waits)
                await trio.sleep(0.01)
            await api.send(alpha, beta)
        status, body = results[0]
        assert status == 201 and body["message"]["from"] == alpha.address
        # Its lease is one second: the next waiting claim gets the message when it ends.
        status, again = await claim(api, beta.token, {"wait_seconds": 60})
    assert status == 201 and again["message"]["id"] == body["message"]["id"]


async def test_a_lease_that_ends_wakes_a_waiting_claim(tmp_path: Path, clock: MockClock) -> None:
    async with open_carrier(Settings(data_dir=tmp_path / "var", port=0)) as (api, _):
        alpha, beta = await api.pair()
        await api.send(alpha, beta)
        first = (await api.claim(beta, 1)).json()  # leased for one second
        leased = trio.current_time()
        status, body = await claim(api, beta.token, {"wait_seconds": 30})
        # Woken when the lease ended, not claimed at the end of the 30 s wait.
        assert trio.current_time() - leased == pytest.approx(1, abs=0.2)
        assert status == 201 and body["message"]["id"] == first["message"]["id"]
        assert body["id"] != first["id"]


async def test_wait_seconds_is_checked(api: Api) -> None:
    _, beta = await api.pair()
    for bad in (-1, 61, "5"):
        r = await api.post("/api/inbox/claims", beta.token, {"wait_seconds": bad})
        assert (r.status_code, r.json()["error"]["code"]) == (422, "invalid_request")


async def test_a_long_wait_ends_on_time_on_the_mock_clock(tmp_path: Path, clock: MockClock) -> None:
    async with open_carrier(Settings(data_dir=tmp_path / "var", port=0)) as (api, _):
        _, beta = await api.pair()
        start = trio.current_time()
        assert await claim(api, beta.token, {"wait_seconds": 60}) == (200, {"delivery": None})
        assert trio.current_time() - start == pytest.approx(60, abs=0.1)
