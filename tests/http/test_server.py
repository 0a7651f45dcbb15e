"""Our accept loop around Hypercorn's connections: the cap, a connection released the
moment its client leaves, and a stop that closes idle connections at once.

A tiny ASGI app on ``serve_connections`` in this process, on trio's mock clock; the
carrier's own use of it is in ``test_exchange.py`` and ``test_connection_cap.py``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import trio
from hypercorn.config import Config
from hypercorn.typing import ASGIFramework, ASGIReceiveCallable, ASGISendCallable, Scope
from trio.testing import MockClock, wait_all_tasks_blocked

from atp.http import ConnectionGate, serve_connections
from tests.support.raw_http import RawConnection, request

KEEP_ALIVE = 600.0  # mock seconds: nothing here may wait for it
BOUND = 60.0


async def hello(scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
    if scope["type"] == "lifespan":
        await receive()
        await send({"type": "lifespan.startup.complete"})
        await receive()
        await send({"type": "lifespan.shutdown.complete"})
        return
    while (await receive()).get("more_body"):
        pass
    headers = [(b"content-length", b"2")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"ok", "more_body": False})


class FaultyConfig(Config):
    """Hypercorn reads ``response_headers`` while it answers; this one can fail there,
    in the connection's reader task (as Hypercorn's own EOF race makes it fail)."""

    fail = False

    def response_headers(self, protocol: str) -> list[tuple[bytes, bytes]]:
        if self.fail:
            raise trio.BusyResourceError("injected")
        headers: list[tuple[bytes, bytes]] = super().response_headers(protocol)
        return headers


@asynccontextmanager
async def serving(
    gate: ConnectionGate, config: Config | None = None
) -> AsyncIterator[tuple[str, trio.Event]]:
    config = config or Config()
    config.bind = ["127.0.0.1:0"]
    config.keep_alive_timeout = KEEP_ALIVE
    stop = trio.Event()
    async with trio.open_nursery() as nursery:
        app: ASGIFramework = hello
        binds = await nursery.start(lambda task_status: serve_connections(
            app, config, gate, shutdown_trigger=stop.wait, task_status=task_status
        ))  # fmt: skip
        yield binds[0], stop
        stop.set()


async def test_a_connection_is_released_the_moment_its_client_closes(clock: MockClock) -> None:
    gate = ConnectionGate(limit=10)
    async with serving(gate) as (url, _):
        conn = await RawConnection.open(url)
        with trio.fail_after(BOUND):
            await conn.send(request("GET", "/"))
            assert (await conn.answer()).body == b"ok"
        await wait_all_tasks_blocked()  # idle now: the keep-alive timer runs
        assert gate.open == 1
        started = trio.current_time()
        await conn.aclose()
        await wait_all_tasks_blocked()
        assert gate.open == 0
        assert trio.current_time() == started  # not when the keep-alive timer fires


async def test_past_the_cap_a_connection_is_answered_503_and_closed_unread(
    clock: MockClock,
) -> None:
    gate = ConnectionGate(limit=2)
    async with serving(gate) as (url, _):
        with trio.fail_after(BOUND):
            held = [await RawConnection.open(url) for _ in range(2)]
            for conn in held:  # served, so certainly admitted
                await conn.send(request("GET", "/"))
                assert (await conn.answer()).status == 200
            extra = await RawConnection.open(url)
            answer = await extra.answer()
            await extra.wait_closed()
            assert (answer.status, answer.json()["error"]["code"]) == (503, "server_busy")
            assert len(answer.headers["x-request-id"]) == 20
            await held[0].aclose()
            await wait_all_tasks_blocked()
            again = await RawConnection.open(url)
            await again.send(request("GET", "/"))
            assert (await again.answer()).status == 200
        assert gate.refused.total == 1


async def test_a_stop_closes_idle_connections_at_once_and_returns(clock: MockClock) -> None:
    gate = ConnectionGate(limit=10)
    async with serving(gate) as (url, stop):
        conn = await RawConnection.open(url)
        with trio.fail_after(BOUND):
            await conn.send(request("GET", "/"))
            assert (await conn.answer()).status == 200
        started = trio.current_time()
        stop.set()
        with trio.fail_after(BOUND):
            await conn.wait_closed()
        assert trio.current_time() == started


async def test_a_connection_that_fails_is_closed_and_logged_and_the_server_goes_on(
    clock: MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    gate = ConnectionGate(limit=10)
    config = FaultyConfig()
    async with serving(gate, config) as (url, _):
        with trio.fail_after(BOUND):
            broken = await RawConnection.open(url)
            config.fail = True
            await broken.send(b"NOT HTTP\r\n\r\n")  # answered by the reader task: it fails
            await broken.wait_closed()
            config.fail = False
            conn = await RawConnection.open(url)
            await conn.send(request("GET", "/"))
            assert (await conn.answer()).status == 200
    assert gate.failures.total == 1
    assert [r.getMessage() for r in caplog.records if "ended in an error" in r.getMessage()] == [
        "a connection ended in an error (BusyResourceError): 1 in the last 10 s"
    ]
