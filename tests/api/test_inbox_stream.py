"""``GET /api/inbox/stream`` on both stores: deliveries pushed as they arrive, within the
credit, leases renewed while connected and released when the consumer goes away."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import trio
from trio.testing import MockClock

from atp.actors import Runtime
from atp.client._events import ServerSentEvents
from atp.settings import Settings
from tests.support.helpers import Agent, Api, text
from tests.support.mock_clock import open_carrier


class Stream:
    """One open stream: its delivery events, in the order they came."""

    def __init__(self, receive: trio.MemoryReceiveChannel[dict[str, Any]]) -> None:
        self._receive = receive

    async def next(self, within: float = 10) -> dict[str, Any]:
        with trio.fail_after(within):
            return await self._receive.receive()

    async def take(self, count: int) -> list[dict[str, Any]]:
        return [await self.next() for _ in range(count)]

    async def ended(self, within: float = 10) -> None:
        """Wait until the server ends the stream (no delivery may come first)."""
        with trio.fail_after(within):
            async for claim in self._receive:
                raise AssertionError(f"a delivery after the end: {claim['id']}")


@asynccontextmanager
async def open_stream(api: Api, agent: Agent, query: str = "") -> AsyncIterator[Stream]:
    """Read the agent's stream in the background until the block ends (then disconnect)."""
    send, receive = trio.open_memory_channel[dict[str, Any]](1000)
    stream = Stream(receive)
    headers = {"authorization": f"Bearer {agent.token}"}

    async def read(task_status: trio.TaskStatus[None]) -> None:
        async with (
            send,
            api.client.stream("GET", f"/api/inbox/stream{query}", headers=headers) as r,
        ):
            assert r.status_code == 200, await r.aread()
            assert r.headers["content-type"].startswith("text/event-stream")
            task_status.started()
            parser = ServerSentEvents()
            async for line in r.aiter_lines():
                fields = parser.feed(line)
                if fields is not None:
                    assert fields["event"] == "delivery"
                    data = json.loads(fields["data"])
                    assert fields["id"] == data["id"]
                    await send.send(data)

    async with trio.open_nursery() as nursery:
        await nursery.start(read)
        yield stream
        nursery.cancel_scope.cancel()


async def claim_lapsed(api: Api, agent: Agent) -> list[str]:
    """The texts of every message free to claim now, claimed on leases that end at once
    (so that they are free again)."""
    r = await api.post("/api/inbox/claims", agent.token, {"max": 50, "lease_seconds": 0})
    return words(r.json()["deliveries"])


def words(claims: list[dict[str, Any]]) -> list[str]:
    return [c["message"]["payload"]["parts"][0]["text"] for c in claims]


async def send_texts(api: Api, sender: Agent, to: Agent, *texts: str) -> None:
    for word in texts:
        assert (await api.send(sender, to, text(f"m-{word}", word))).status_code == 201


async def ack_all(api: Api, agent: Agent, claims: list[dict[str, Any]]) -> None:
    acks = [{"delivery_id": c["id"], "status": "completed"} for c in claims]
    r = await api.post("/api/deliveries/acks", agent.token, {"acks": acks})
    assert [item["status"] for item in r.json()["results"]] == [201] * len(claims)


async def history(api: Api, agent: Agent, message_id: str) -> list[str]:
    """The types of the message's audit records, once they include its last event."""
    shown = await api.get(f"/api/messages/{message_id}/history", agent.token)
    return [item["record"]["type"] for item in shown.json()["history"]]


async def test_deliveries_are_pushed_as_they_arrive(api: Api) -> None:
    alpha, beta = await api.pair()
    await send_texts(api, alpha, beta, "before")
    async with open_stream(api, beta) as stream:
        first = await stream.next()
        assert words([first]) == ["before"] and set(first) == {"id", "leased_until", "message"}
        await send_texts(api, alpha, beta, "one", "two")
        pushed = await stream.take(2)
        assert words(pushed) == ["one", "two"]
        await ack_all(api, beta, [first, *pushed])
        shown = (await api.status(alpha.token, first["message"]["id"])).json()
        assert shown["ack_status"] == "completed"
        assert [d["id"] for d in shown["deliveries"]] == [first["id"]]


async def test_the_credit_bounds_what_is_held_and_an_ack_gives_it_back(api: Api) -> None:
    alpha, beta = await api.pair()
    await send_texts(api, alpha, beta, *(str(i) for i in range(6)))
    async with open_stream(api, beta, "?credit=2") as stream:
        held = await stream.take(2)
        assert words(held) == ["0", "1"]
        assert await claim_lapsed(api, beta) == ["2", "3", "4", "5"]  # two held, no more
        await ack_all(api, beta, held[:1])
        assert words([await stream.next()]) == ["2"]
        assert await claim_lapsed(api, beta) == ["3", "4", "5"]
        await ack_all(api, beta, [held[1]])
        assert words([await stream.next()]) == ["3"]


async def test_leaving_releases_the_leases_held(api: Api) -> None:
    alpha, beta = await api.pair()
    await send_texts(api, alpha, beta, "one", "two", "three")
    async with open_stream(api, beta, "?credit=2&lease_seconds=600") as stream:
        held = await stream.take(2)
        await ack_all(api, beta, held[:1])
    # Gone: "two" is claimable at once, under a new delivery, not after 600 s.
    with trio.fail_after(5):
        while True:
            r = await api.post("/api/inbox/claims", beta.token, {"max": 5})
            claims = r.json()["deliveries"]
            if len(claims) == 2:
                break
            await trio.sleep(0.05)  # the release commits as the stream ends
    assert words(claims) == ["two", "three"] and claims[0]["id"] != held[1]["id"]
    shown = (await api.status(alpha.token, held[1]["message"]["id"])).json()
    released = next(d for d in shown["deliveries"] if d["id"] == held[1]["id"])
    assert released["status"] == "leased" and released["leased_until"] < claims[0]["leased_until"]
    kinds = await history(api, beta, held[1]["message"]["id"])
    assert kinds.count("delivery.lease_released") == 1


async def test_a_second_stream_gets_what_the_first_does_not_hold(api: Api) -> None:
    alpha, beta = await api.pair()
    await send_texts(api, alpha, beta, *(str(i) for i in range(4)))
    async with open_stream(api, beta, "?credit=3") as first:
        mine = await first.take(3)
        async with open_stream(api, beta, "?credit=3") as second:
            theirs = await second.take(1)
            assert await claim_lapsed(api, beta) == []  # all four held, each by one
    assert words(mine) == ["0", "1", "2"] and words(theirs) == ["3"]


@pytest.mark.parametrize(
    "query", ["?credit=0", "?credit=x", "?credit=501", "?lease_seconds=0", "?lease_seconds=3601"]
)
async def test_bad_parameters_are_refused(api: Api, query: str) -> None:
    _, beta = await api.pair()
    r = await api.get(f"/api/inbox/stream{query}", beta.token)
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_request"


async def test_the_stream_needs_an_agent_key(api: Api) -> None:
    assert (await api.get("/api/inbox/stream", None)).status_code == 401
    account = await api.signup()
    r = await api.get("/api/inbox/stream", account)
    assert r.status_code == 403 and r.json()["error"]["code"] == "agent_key_required"


async def test_a_rotated_key_ends_the_stream(api: Api) -> None:
    alpha, beta = await api.pair()
    await send_texts(api, alpha, beta, "one")
    headers = {"authorization": f"Bearer {beta.token}"}
    with trio.fail_after(10):
        async with api.client.stream("GET", "/api/inbox/stream", headers=headers) as r:
            lines = r.aiter_lines()
            async for line in lines:
                if line.startswith("data: "):
                    break  # "one" came
            rotated = await api.post(f"/api/agents/{beta.id}/keys", beta.account_token, {})
            assert rotated.status_code == 201, rotated.text
            await send_texts(api, alpha, beta, "two")  # a commit wakes the stream
            rest = [line async for line in lines]  # until the server ends it
    assert not any(line.startswith("data: ") for line in rest)


async def test_the_carrier_stopping_ends_the_stream_and_releases(
    api: Api, runtime: Runtime
) -> None:
    alpha, beta = await api.pair()
    await send_texts(api, alpha, beta, "one")
    async with open_stream(api, beta, "?lease_seconds=600") as stream:
        [held] = await stream.take(1)
        runtime.context.arrivals.close()  # what `atp serve` does on SIGTERM
        with trio.fail_after(5):
            while True:
                shown = (await api.status(alpha.token, held["message"]["id"])).json()
                if shown["deliveries"][0]["leased_until"] < held["leased_until"]:
                    break
                await trio.sleep(0.05)


async def test_leases_are_renewed_while_connected(tmp_path: Path, clock: MockClock) -> None:
    async with open_carrier(Settings(data_dir=tmp_path / "var", port=0)) as (api, _):
        alpha, beta = await api.pair()
        await send_texts(api, alpha, beta, "one")
        async with open_stream(api, beta, "?lease_seconds=30") as stream:
            [held] = await stream.take(1)
            await trio.sleep(300)  # ten leases long, on the mock clock
            # Still held: nobody else can claim it, and the ACK on it lands.
            claim = await api.post("/api/inbox/claims", beta.token, {"max": 1})
            assert claim.json() == {"deliveries": []}
            await ack_all(api, beta, [held])
        kinds = await history(api, beta, held["message"]["id"])
        # Renewed once a third of the lease had passed: no more than needed.
        assert 300 / 30 <= kinds.count("delivery.lease_extended") <= 300 / 10 + 1
