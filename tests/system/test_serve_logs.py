"""``atp serve``'s own output, as an operator sees it: one start-up line, JSON when not
on a terminal, ATP_LOG_LEVEL and ATP_LOG_FORMAT obeyed, a bad level refused at once."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import trio

from tests.support.subprocess_server import ServerProcess, client, server_env

pytestmark = pytest.mark.slow


def lines_of(server: ServerProcess) -> list[str]:
    """The server's lines (it has stopped), without the harness's start markers."""
    text = server.log_path.read_text()
    return [line for line in text.splitlines() if not line.startswith("--- start #")]


async def run_briefly(server: ServerProcess) -> None:
    """Start, serve a few requests, stop with SIGTERM (exit 0)."""
    await server.start()
    async with client(server) as api:
        await api.signup()
        assert (await api.client.get("/no/such/route")).status_code == 404
    code, _ = await server.stop(signal.SIGTERM, within=10)
    assert code == 0, server.log()


async def test_json_by_default_off_a_terminal_and_one_start_up_line(
    store: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    env = server_env(store, tmp_path, request)
    async with ServerProcess(env, tmp_path) as server:
        await run_briefly(server)
    lines = lines_of(server)
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    assert sum("listening on" in line or "Running on" in line for line in lines) == 1
    [started] = [r for r in records if "listening on" in r["message"]]
    assert started["logger"] == "atp.serve" and started["level"] == "info"
    assert f"({'sqlite' if store == 'sqlite' else 'postgresql'} store)" in started["message"]
    routes = {r.get("route") for r in records if r["logger"] == "atp.access"}
    assert {"/ready", "/api/accounts", "<unmatched>"} <= routes
    assert any(r["message"] == "shutting down" for r in records)
    assert "Traceback" not in "\n".join(lines)


async def test_the_level_and_the_text_format_are_obeyed(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    env = server_env("sqlite", tmp_path, request)
    # This setting makes the carrier warn at start: one line that must pass the level.
    env |= {"ATP_LOG_LEVEL": "WARNING", "ATP_LOG_FORMAT": "text", "ATP_WEBHOOK_ALLOW_PRIVATE": "1"}
    async with ServerProcess(env, tmp_path) as server:
        await run_briefly(server)
    [line] = lines_of(server)
    assert " WARNING atp.serve ATP_WEBHOOK_ALLOW_PRIVATE=1: " in line
    assert not line.startswith("{")


@pytest.mark.parametrize(("name", "value"), [("ATP_LOG_LEVEL", "loud"), ("ATP_LOG_FORMAT", "xml")])
async def test_a_bad_log_setting_stops_the_start_with_one_line(
    name: str, value: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    env = server_env("sqlite", tmp_path, request) | {name: value}
    with trio.fail_after(30):
        done = await trio.run_process(
            [sys.executable, "-m", "atp", "serve"],
            env=env, cwd=tmp_path, capture_stdout=True, capture_stderr=True, check=False,
            stdin=subprocess.DEVNULL,
        )  # fmt: skip
    assert done.returncode == 1
    output = (done.stdout + done.stderr).decode()
    assert output.strip().splitlines() == [
        f"error: {name} must be one of {_choices(name)}; got {value!r}"
    ]


def _choices(name: str) -> str:
    return "debug, info, warning, error" if name == "ATP_LOG_LEVEL" else "text, json"
