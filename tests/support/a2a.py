"""A2A calls over the carrier's two bindings, as an A2A client makes them; an A2A
recipient server (``a2a_recipient``) in its own process."""

from __future__ import annotations

import json
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import httpx
import trio

from atp.serve import open_runtime, serve_http
from atp.settings import Settings
from tests.support.helpers import Agent, Api

VERSION = {"A2A-Version": "1.0"}


def text(body: str = "hello", **extra: Any) -> dict[str, Any]:
    """An A2A 1.0 message from a client (``ROLE_USER``) with a fresh ``messageId``."""
    message = {"messageId": secrets.token_hex(8), "role": "ROLE_USER", "parts": [{"text": body}]}
    return {**message, **extra}


def answer(body: str, context_id: str) -> dict[str, Any]:
    """An agent's reply (an ACK's payload)."""
    return {
        "messageId": secrets.token_hex(8),
        "role": "ROLE_AGENT",
        "contextId": context_id,
        "parts": [{"text": body}],
    }


class A2A:
    """JSON-RPC and HTTP+JSON calls from ``caller`` to ``tenant``."""

    def __init__(self, client: httpx.AsyncClient, caller: Agent, tenant: Agent) -> None:
        self.client = client
        self.caller = caller
        self.tenant = tenant

    def headers(self, token: str | None = "") -> dict[str, str]:
        token = self.caller.token if token == "" else token
        auth = {} if token is None else {"Authorization": f"Bearer {token}"}
        return {**VERSION, **auth}

    async def rpc(
        self, method: str, params: dict[str, Any] | None = None, token: str | None = ""
    ) -> httpx.Response:
        params = {"tenant": self.tenant.id, **(params or {})}
        body = {"jsonrpc": "2.0", "id": 7, "method": method, "params": params}
        return await self.client.post("/a2a", json=body, headers=self.headers(token))

    async def result(self, method: str, params: dict[str, Any] | None = None) -> Any:
        """A successful call's result (fails the test on an error)."""
        r = await self.rpc(method, params)
        assert r.status_code == 200, r.text
        body = r.json()
        assert "error" not in body, body
        assert body["id"] == 7
        return body["result"]

    async def error(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        r = await self.rpc(method, params)
        assert r.status_code == 200, r.text
        error: dict[str, Any] = r.json()["error"]
        return error

    async def send(self, message: dict[str, Any], **configuration: Any) -> dict[str, Any]:
        """SendMessage; the task."""
        params = {"message": message, "configuration": configuration}
        task: dict[str, Any] = (await self.result("SendMessage", params))["task"]
        return task

    async def task(self, task_id: str, **params: Any) -> dict[str, Any]:
        task: dict[str, Any] = await self.result("GetTask", {"id": task_id, **params})
        return task

    async def state_is(self, task_id: str, state: str) -> bool:
        return bool((await self.task(task_id))["status"]["state"] == state)

    def rest_path(self, path: str) -> str:
        return f"/a2a/{self.tenant.id}{path}"

    async def events(self, method: str, params: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        """The JSON-RPC responses of a streaming call, as they come."""
        body = {
            "jsonrpc": "2.0",
            "id": 7,
            "method": method,
            "params": {"tenant": self.tenant.id, **params},
        }
        async with self.client.stream("POST", "/a2a", json=body, headers=self.headers()) as r:
            assert r.status_code == 200
            assert r.headers["content-type"].startswith("text/event-stream")
            async for line in r.aiter_lines():
                if line.startswith("data: "):
                    yield json.loads(line[6:])


async def until(check: Callable[[], Awaitable[bool]], seconds: float = 15) -> None:
    """Poll ``check`` until it holds (the carrier's retries run on the real clock)."""
    with trio.fail_after(seconds):
        while True:
            if await check():
                return
            await trio.sleep(0.05)


@contextmanager
def recipient(port: int, log: Path, *extra: str) -> Iterator[None]:
    """The a2a-sdk agent on ``port``, until the block ends."""
    command = [sys.executable, "-m", "tests.support.a2a_recipient", str(port), str(log), *extra]
    process = subprocess.Popen(command, cwd=Path(__file__).resolve().parents[2])
    try:
        for _ in range(400):  # listening yet? (a connection, not a request: --refuse counts those)
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.025)
        yield
    finally:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:  # a call it holds (--hang) keeps it from stopping
            process.kill()
            process.wait(5)


@asynccontextmanager
async def served(settings: Settings) -> AsyncIterator[Api]:
    """A carrier on ``settings``' stores, served until the block ends (a test that
    stops and starts one)."""
    async with open_runtime(settings) as rt, trio.open_nursery() as nursery:
        shutdown = trio.Event()
        [url] = await nursery.start(serve_http, rt, shutdown)
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            yield Api(client)
        shutdown.set()
