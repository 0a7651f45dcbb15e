"""The inbox stream across restarts of a real ``atp serve``: nothing lost, nothing handed
to anyone else while its lease holds.

SIGTERM: the carrier ends the stream at once (it does not hold the graceful stop) and
releases the leases it held, so the consumer that reconnects gets those messages again.
SIGKILL: nothing releases them; after the restart they come back only once their
leases have ended, and an ACK of one still leased is recorded.
"""

from __future__ import annotations

import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

from tests.api.test_inbox_stream import Stream, ack_all, open_stream, send_texts, words
from tests.support.helpers import Agent, Api
from tests.support.subprocess_server import ServerProcess, client, server_env

pytestmark = pytest.mark.slow

TEXTS = [str(i) for i in range(6)]


async def drain(api: Api, agent: Agent, query: str, count: int) -> list[dict[str, Any]]:
    """Stream until ``count`` deliveries came, ACKing each at once."""
    got = []
    async with open_stream(api, agent, query) as stream:
        for _ in range(count):
            claim = await stream.next(within=30)
            got.append(claim)
            await ack_all(api, agent, [claim])
    return got


@asynccontextmanager
async def streaming(
    server: ServerProcess, query: str, *, killed: bool
) -> AsyncIterator[tuple[Api, Agent, Stream]]:
    """The server started, ``TEXTS`` sent to beta, beta's stream open, for a block that
    stops the server. ``killed``: the connection may break under the reader; else the
    server must end the stream properly (a stream it cut off would break it)."""
    await server.start()
    async with client(server) as api:
        alpha, beta = await api.pair()
        await send_texts(api, alpha, beta, *TEXTS)
        try:
            async with open_stream(api, beta, query) as stream:
                yield api, beta, stream
        except* httpx.TransportError:
            if not killed:
                raise


async def test_a_graceful_restart_releases_the_stream_and_loses_nothing(
    store: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    env = server_env(store, tmp_path, request)
    async with ServerProcess(env, tmp_path) as server:
        query = "?credit=3&lease_seconds=600"
        async with streaming(server, query, killed=False) as (api, beta, stream):
            held = await stream.take(3)
            await ack_all(api, beta, held[:1])
            await stream.next()  # the credit given back: "3"
            code, _ = await server.stop(signal.SIGTERM, within=10)
            assert code == 0
            # Ended by the carrier, not cut off at the end of the graceful stop.
            await stream.ended()

        await server.start()
        async with client(server) as api:
            rest = await drain(api, beta, "?credit=3", len(TEXTS) - 1)
            # The three held at the stop were released: they come first, in order.
            assert words(rest) == TEXTS[1:]
            assert words(await api_claims(api, beta)) == []


async def test_after_a_kill_held_messages_wait_for_their_leases(
    store: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    env = server_env(store, tmp_path, request)
    async with ServerProcess(env, tmp_path) as server:
        query = "?credit=3&lease_seconds=10"
        async with streaming(server, query, killed=True) as (api, beta, stream):
            held = await stream.take(3)
            server.kill_now()  # no release
            await stream.ended()
        await server.kill()

        await server.start()
        async with client(server) as api:
            await ack_all(api, beta, held[:1])  # its lease still holds: recorded
            async with open_stream(api, beta, "?credit=6&lease_seconds=30") as stream:
                fresh = await stream.take(3)
                assert words(fresh) == TEXTS[3:]  # not the two still leased
                again = await stream.take(2)
                await ack_all(api, beta, fresh + again)
            assert words(again) == TEXTS[1:3]
            for old, new in zip(held[1:], again, strict=True):
                assert new["id"] != old["id"]
                # Claimed again (30 s before its new lease ends) only once the old ended.
                assert _seconds(new["leased_until"]) - 30 >= _seconds(old["leased_until"])
            assert words(await api_claims(api, beta)) == []


async def api_claims(api: Api, agent: Agent) -> list[dict[str, Any]]:
    r = await api.post("/api/inbox/claims", agent.token, {"max": 10})
    claims: list[dict[str, Any]] = r.json()["deliveries"]
    return claims


def _seconds(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


async def test_nothing_is_lost_when_the_consumer_reconnects_often(
    store: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    env = server_env(store, tmp_path, request)
    async with ServerProcess(env, tmp_path) as server:
        await server.start()
        async with client(server) as api:
            alpha, beta = await api.pair()
            texts = [str(i) for i in range(30)]
            await send_texts(api, alpha, beta, *texts)
            acked: list[str] = []
            with trio.fail_after(60):
                while len(acked) < len(texts):
                    # Take up to four, ACK two, drop the connection holding the rest.
                    async with open_stream(api, beta, "?credit=4") as stream:
                        taken = await stream.take(min(4, len(texts) - len(acked)))
                        await ack_all(api, beta, taken[:2])
                    acked += words(taken[:2])
            # Each once. (Not always in order: a reconnection may come in before the
            # server has seen the old one go and released what it held.)
            assert sorted(acked, key=int) == texts
