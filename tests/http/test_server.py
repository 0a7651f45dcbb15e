"""Our accept loop around Hypercorn's connections: the cap, a connection released the
moment its client leaves, and a stop that closes idle connections at once.

A tiny ASGI app on ``serve_connections`` in this process, on trio's mock clock; the
carrier's own use of it is in ``test_exchange.py`` and ``test_connection_cap.py``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import trio
from hypercorn.config import Config
from hypercorn.typing import ASGIFramework, ASGIReceiveCallable, ASGISendCallable, Scope
from trio.testing import MockClock, wait_all_tasks_blocked

from atp.http import ConnectionGate, serve_connections
from tests.http.raw import RawConnection, request
from tests.mock_clock import clock

__all__ = ["clock"]  # the fixture, for pytest

KEEP_ALIVE = 600.0  # mock seconds: nothing here may wait for it
BOUND = 60.0


async def hello(scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
    if scope["type"] == "lifespan":
        for step in ("startup", "shutdown"):
            await receive()
            await send({"type": f"lifespan.{step}.complete"})  # type: ignore[arg-type]
        return
    while (await receive()).get("more_body"):
        pass
    headers = [(b"content-length", b"2")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"ok", "more_body": False})


@asynccontextmanager
async def serving(gate: ConnectionGate) -> AsyncIterator[tuple[str, trio.Event]]:
    config = Config()
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
