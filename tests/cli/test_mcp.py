"""``atp mcp``: the official MCP client runs the server over stdio, as a coding agent
would, and two agents exchange a message through it; and over streamable HTTP."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import trio
from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client

from tests.support.cli_process import InProcessCli, assert_no_secret, with_aliases
from tests.support.subprocess_server import free_port

pytestmark = pytest.mark.parametrize("store", ["sqlite"])

TOOLS = {
    "send_message", "check_inbox", "wait_for_message", "ack", "message_status",
    "message_history", "open_session", "session_send", "session_show",
}  # fmt: skip


@asynccontextmanager
async def mcp_session(home: Path, alias: str) -> AsyncIterator[ClientSession]:
    """An MCP client session with ``atp mcp --as alias``; its stderr is checked for
    secrets afterwards."""
    env = {"ATP_HOME": str(home), "PATH": os.environ.get("PATH", "")}
    server = StdioServerParameters(
        command=sys.executable, args=["-m", "atp", "mcp", "--as", alias], env=env
    )
    with tempfile.TemporaryFile("w+") as errors:
        async with (
            stdio_client(server, errlog=errors) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            yield session
        errors.seek(0)
        credentials = (home / "credentials.toml").read_text()
        tokens = [w.strip('"') for w in credentials.split() if w.startswith(('"ak_', '"agk_'))]
        assert_no_secret(errors.read(), tokens)


async def call(session: ClientSession, tool: str, **arguments: Any) -> dict[str, Any]:
    result = await session.call_tool(tool, arguments)
    assert not result.is_error, result.content
    structured: dict[str, Any] = result.structured_content
    return structured


async def test_two_agents_exchange_a_message_through_mcp(base_url: str, tmp_path: Path) -> None:
    cli = await with_aliases(InProcessCli(tmp_path / "home"), base_url)
    beta = json.loads((await cli("agent", "show", "beta", "--json")).out)["address"]
    async with mcp_session(cli.home, "alpha") as alpha, mcp_session(cli.home, "beta") as bob:
        tools = (await alpha.list_tools()).tools
        assert {t.name for t in tools} == TOOLS
        inbox_tool = next(t for t in tools if t.name == "check_inbox")
        assert "peer" in (inbox_tool.description or "")

        sent = await call(alpha, "send_message", to=beta, text="What is 6 x 7?")
        message_id = sent["message_id"]
        assert sent["ack_status"] is None

        claimed = await call(bob, "check_inbox", wait_seconds=5)
        [message] = claimed["messages"]
        assert message["message_id"] == message_id
        assert message["text"] == "What is 6 x 7?"
        held = await bob.read_resource("atp://inbox")
        assert json.loads(held.contents[0].text)[0]["delivery_id"] == message["delivery_id"]

        acked = await call(
            bob, "ack", delivery_id=message["delivery_id"], status="completed", text="42"
        )
        assert acked["ack_status"] == "completed"
        assert json.loads((await bob.read_resource("atp://inbox")).contents[0].text) == []

        status = await call(alpha, "message_status", message_id=message_id)
        assert (status["carrier_status"], status["ack_status"]) == ("delivered", "completed")
        history = await call(alpha, "message_history", message_id=message_id)
        assert len(history["history"]) >= 3  # sent, leased, ACKed
        nothing = await call(bob, "wait_for_message", timeout_seconds=1)
        assert nothing["message"] is None


async def test_a_session_through_mcp(base_url: str, tmp_path: Path) -> None:
    cli = await with_aliases(InProcessCli(tmp_path / "home"), base_url)
    beta = json.loads((await cli("agent", "show", "beta", "--json")).out)["address"]
    async with mcp_session(cli.home, "alpha") as alpha:
        opened = await call(alpha, "open_session", to=beta, text="shall we?")
        session_id = opened["session"]["id"]
        shown = await call(alpha, "session_show", session_id=session_id)
        assert shown["session"]["status"] == "pending"
        transcript = await alpha.read_resource(f"atp://sessions/{session_id}")
        assert json.loads(transcript.contents[0].text)["session"]["id"] == session_id
        refused = await alpha.call_tool("ack", {"delivery_id": "dlv_x", "status": "maybe"})
        assert refused.is_error


async def test_mcp_over_streamable_http_on_loopback(base_url: str, tmp_path: Path) -> None:
    cli = await with_aliases(InProcessCli(tmp_path / "home"), base_url)
    beta = json.loads((await cli("agent", "show", "beta", "--json")).out)["address"]
    port = free_port()
    env = {"ATP_HOME": str(cli.home), "PATH": os.environ.get("PATH", "")}
    command = [sys.executable, "-m", "atp", "mcp", "--as", "alpha", "--http", str(port)]
    out, err = tmp_path / "out", tmp_path / "err"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        process = await trio.lowlevel.open_process(command, env=env, stdout=stdout, stderr=stderr)
    try:
        with trio.fail_after(20):
            while True:  # listening yet?
                try:
                    (await trio.open_tcp_stream("127.0.0.1", port)).socket.close()
                    break
                except OSError:
                    await trio.sleep(0.05)
        url = f"http://127.0.0.1:{port}/mcp"
        async with streamable_http_client(url) as streams, ClientSession(*streams[:2]) as alpha:
            await alpha.initialize()
            assert {t.name for t in (await alpha.list_tools()).tools} == TOOLS
            sent = await call(alpha, "send_message", to=beta, text="over HTTP")
            status = await call(alpha, "message_status", message_id=sent["message_id"])
            assert status["carrier_status"] == "queued"
    finally:
        process.terminate()
        with trio.fail_after(10):
            await process.wait()
    assert url in out.read_text()
    credentials = (cli.home / "credentials.toml").read_text()
    tokens = [w.strip('"') for w in credentials.split() if w.startswith(('"ak_', '"agk_'))]
    assert_no_secret(out.read_text() + err.read_text(), tokens)
