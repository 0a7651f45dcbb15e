"""The CLI commands that wait: ``inbox --wait`` and ``session watch`` (stream and polling).

The carrier and the CLI run in real time here (separate processes), so times are
measured on the wall clock; the server-side long poll is also tested on a mock clock
in ``tests/api/test_long_poll.py``.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
from hypercorn.config import Config
from hypercorn.trio import serve

from actors import Runtime
from atp.api import create_app
from tests.cli.cli_process import Cli, field
from tests.subprocess_server import ServerProcess, server_env

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
                assert chunk, f"pipe closed before {needle!r}:\n{self.text}"
                self.text += chunk.decode()
        return time.monotonic()

    async def rest(self) -> str:
        """Everything, once the process has closed the pipe."""
        with trio.fail_after(15):
            while chunk := await self.stream.receive_some():
                self.text += chunk.decode()
        return self.text


async def aliases(cli: Cli, base_url: str) -> None:
    await cli("init", "--server", base_url)
    await cli("agent", "create", "alpha")
    await cli("agent", "create", "beta")
    await cli("use", "alpha")


@pytest.fixture
async def cli(store: str, tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Cli]:
    """A CLI with aliases alpha (active) and beta on a carrier process."""
    async with ServerProcess(server_env(store, tmp_path, request), tmp_path) as server:
        await server.start()
        cli = Cli(tmp_path / "home")
        await aliases(cli, server.base_url)
        yield cli


async def test_inbox_wait_returns_within_50_ms_of_a_send(cli: Cli) -> None:
    config = (cli.home / "config.toml").read_text()
    base_url = config.split('server_url = "')[1].split('"')[0]
    beta = config.split("[aliases.beta]")[1].split('address = "')[1].split('"')[0]
    alpha_token = cli.tokens()[1]
    waiting = await cli.start("inbox", "--wait", "10", "--as", "beta")
    out, err = Pipe(waiting.stdout), Pipe(waiting.stderr)
    await err.until("Waiting up to 10 s")
    await trio.sleep(0.5)  # the claim reaches the carrier and waits there
    async with httpx.AsyncClient(base_url=base_url) as http:
        sent = await http.post(
            "/api/messages",
            json={"to": beta, "payload": {"messageId": "m1", "role": "ROLE_USER",
                                          "parts": [{"text": "are you there?"}]}},
            headers={"authorization": f"Bearer {alpha_token}", "idempotency-key": "k1"},
        )  # fmt: skip
        answered = time.monotonic()
    assert sent.status_code == 201
    arrived = await out.until("Text: are you there?")
    assert arrived - answered < 0.05
    assert await waiting.wait() == 0
    cli.check(out.text + err.text)

    # Nothing comes: the answer comes when the time is up.
    idle = await cli.start("inbox", "--wait", "1", "--as", "beta")
    out, err = Pipe(idle.stdout), Pipe(idle.stderr)
    started = await err.until("Waiting up to 1 s")
    ended = await out.until("No pending deliveries.")
    assert 0.95 <= ended - started <= 1.6


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
            without_streams(create_app(runtime)), config,
            shutdown_trigger=shutdown.wait, task_status=task_status,
        )
    )  # fmt: skip
    cli = Cli(tmp_path / "home")
    await aliases(cli, binds[0])
    printed = await follow_a_session(cli)
    rows = [line.split()[:6] for line in printed.splitlines() if line[:1].isdigit()]
    # Polling shows a row again when its delivery or ACK state changes, as the reference.
    assert rows[0][4:6] == ["queued", "-"] and ["delivered", "accepted"] in [r[4:6] for r in rows]
    shutdown.set()
