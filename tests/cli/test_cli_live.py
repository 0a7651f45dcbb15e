"""The CLI commands that wait: ``inbox --wait`` and ``session watch`` (stream and polling).

These check what happens, not how fast: the server-side long poll is timed on Trio's
mock clock in ``tests/api/test_long_poll.py``, and ``ops/bench --long-poll`` measures
how soon a waiting claim hears of a send.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
from hypercorn.config import Config
from hypercorn.trio import serve

from atp.actors import Runtime
from atp.api import create_app
from tests.support.cli_process import Cli, field, redacted, with_aliases
from tests.support.helpers import Api, text

pytestmark = [pytest.mark.slow, pytest.mark.parametrize("store", ["sqlite"])]

ASGI = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


class Pipe:
    """What a process has written to one of its pipes so far."""

    def __init__(self, stream: trio.abc.ReceiveStream | None) -> None:
        assert stream is not None
        self.stream = stream
        self.text = ""

    async def until(self, needle: str, within: float = 15) -> float:
        """Read until ``needle`` has appeared; return the time it arrived."""
        with trio.fail_after(within):
            while needle not in self.text:
                chunk = await self.stream.receive_some()
                assert chunk, f"pipe closed before {needle!r}:\n{redacted(self.text, [])}"
                self.text += chunk.decode()
        return time.monotonic()

    async def rest(self) -> str:
        """Everything, once the process has closed the pipe."""
        with trio.fail_after(15):
            while chunk := await self.stream.receive_some():
                self.text += chunk.decode()
        return self.text


async def test_inbox_wait_is_woken_by_a_send_and_ends_when_the_time_is_up(cli: Cli) -> None:
    # How soon (the 50 ms) is measured by `ops/bench --long-poll`, not here.
    alpha = cli.state("credentials")["agents"]["alpha"]["agent_token"]
    beta = cli.state("config")["aliases"]["beta"]["address"]
    waiting = await cli.start("inbox", "--wait", "60", "--as", "beta")
    out, err = Pipe(waiting.stdout), Pipe(waiting.stderr)
    await err.until("Waiting up to 60 s")
    await trio.sleep(0.5)  # the claim reaches the carrier and waits there
    async with httpx.AsyncClient(base_url=cli.state("config")["server_url"]) as http:
        body = {"to": beta, "payload": text(body="are you there?")}
        assert (await Api(http).post("/api/messages", alpha, body)).status_code == 201
    # Answered with the message long before the 60 s wait could have ended.
    await out.until("Text: are you there?", within=10)
    assert await waiting.wait() == 0
    cli.check(out.text + err.text)

    # Nothing comes: the claim is held for the whole second, then answers null.
    idle = await cli.start("inbox", "--wait", "1", "--as", "beta")
    out, err = Pipe(idle.stdout), Pipe(idle.stderr)
    started = await err.until("Waiting up to 1 s")
    assert await out.until("No pending deliveries.") - started >= 0.95


async def test_inbox_follow_prints_each_delivery_as_it_arrives(cli: Cli) -> None:
    await cli("send", "beta", "before")
    following = await cli.start("inbox", "--follow", "--credit", "5", "--as", "beta")
    out, err = Pipe(following.stdout), Pipe(following.stderr)
    await err.until("Following the inbox of beta")
    await out.until("Text: before")
    await cli("send", "beta", "after")
    await out.until("Text: after")
    following.terminate()
    await following.wait()
    deliveries = [line for line in out.text.splitlines() if line.startswith("Delivery: ")]
    assert len(deliveries) == 2
    cli.check(out.text + err.text)
    # Stopped: both leases were released, so both can be claimed again at once.
    claimed = await cli("inbox", "--max", "5", "--as", "beta")
    assert [field(b, "Text") for b in claimed.out.split("\n\n")] == ["before", "after"]


async def follow_a_session(cli: Cli) -> str:
    """Open a session, watch it, answer and close it; return what the watch printed."""
    session_id = field((await cli("session", "open", "beta", "plan?")).out, "Session")
    watching = await cli.start("session", "watch", session_id)
    out = Pipe(watching.stdout)
    await out.until("plan?")
    await cli("session", "accept", session_id, "--as", "beta")
    await out.until("Status: open")
    await cli("session", "send", session_id, "turn two", "--as", "beta")
    await out.until("turn two")
    await cli("session", "close", session_id)
    with trio.fail_after(10):
        assert await watching.wait() == 0  # it ends with the session
    cli.check(await out.rest())
    last = {line.split()[0]: line.split() for line in out.text.splitlines() if line[:1].isdigit()}
    assert [last["1"][i] for i in (2, 3)] == ["alpha", "beta"] and last["1"][-1] == "plan?"
    assert [last["2"][i] for i in (2, 3)] == ["beta", "alpha"] and last["2"][-2:] == ["turn", "two"]
    assert "Status: closed (" in out.text
    return out.text


async def test_session_watch_follows_the_stream(cli: Cli) -> None:
    printed = await follow_a_session(cli)
    rows = [line.split()[0] for line in printed.splitlines() if line[:1].isdigit()]
    assert rows == ["1", "2"]  # the stream shows each turn once


def without_streams(app: ASGI) -> ASGI:
    """The carrier as the reference serves it: no ``/stream`` route (404)."""

    async def asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].endswith("/stream"):
            body = json.dumps({"error": {"code": "not_found", "message": "Not Found"}}).encode()
            headers = [(b"content-type", b"application/json")]
            await send({"type": "http.response.start", "status": 404, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        await app(scope, receive, send)

    return asgi


async def test_session_watch_polls_a_carrier_without_streams(
    runtime: Runtime, nursery: trio.Nursery, tmp_path: Path
) -> None:
    config = Config()
    config.bind = ["127.0.0.1:0"]
    shutdown = trio.Event()
    binds = await nursery.start(
        lambda task_status: serve(
            without_streams(create_app(runtime.carrier)), config,
            shutdown_trigger=shutdown.wait, task_status=task_status,
        )
    )  # fmt: skip
    cli = await with_aliases(Cli(tmp_path / "home"), binds[0])
    printed = await follow_a_session(cli)
    rows = [line.split()[:6] for line in printed.splitlines() if line[:1].isdigit()]
    # Polling shows a row again when its delivery or ACK state changes, as the reference.
    assert rows[0][4:6] == ["queued", "-"] and ["delivered", "accepted"] in [r[4:6] for r in rows]
    shutdown.set()
