"""Descriptors do not run out: the server holds at most its connection cap, refuses the
rest at once with ``503 server_busy``, keeps serving, and logs a line, not a flood.

A real ``atp serve`` whose open-files limit is 256, soft and hard (so it cannot raise
it), faced with more idle connections than it has descriptors. Before the cap, accept
failed with EMFILE past about 240 connections: the rest waited in the kernel's queue,
unanswered, and trio logged a traceback every 100 ms. Waits are bounded by ``BOUND``
(real seconds, this being another process) so that a connection that is never answered
fails the test instead of hanging it.
"""

from __future__ import annotations

import re
import resource
import subprocess
import sys
from functools import partial
from pathlib import Path

import pytest
import trio

from tests.support import raw_http as raw
from tests.support.raw_http import Answer, RawConnection
from tests.support.subprocess_server import ServerProcess, server_env

pytestmark = pytest.mark.slow

LIMIT = 256
CONNECTIONS = 300  # more than the server has descriptors
# What the default cap leaves for the rest (ATP_WEBHOOK_CONCURRENCY + 4 * db_threads + 64).
EXPECTED_CAP = LIMIT - (128 + 4 * 8 + 64)
QUIET = 2.0  # seconds in which a refused connection has its answer
BOUND = 60.0
BUSY = {
    "error": {
        "code": "server_busy",
        "message": "The server has too many open connections; retry shortly.",
    }
}


async def first_answer(conn: RawConnection) -> Answer:
    """The answer the server sends unasked (a refusal), else the answer to GET /health."""
    with trio.move_on_after(QUIET):
        return await conn.answer()
    await conn.send(raw.request("GET", "/health"))
    return await conn.answer()


async def test_past_the_cap_connections_are_refused_at_once_and_the_log_stays_short(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    env = server_env("sqlite", tmp_path, request)
    env["ATP_KEEP_ALIVE_TIMEOUT"] = "600"  # idle connections stay for the whole test
    low = partial(resource.setrlimit, resource.RLIMIT_NOFILE, (LIMIT, LIMIT))
    async with ServerProcess(env, tmp_path, preexec_fn=low) as server:
        await server.start()
        assert f"at most {EXPECTED_CAP} HTTP connections" in server.log(), server.log()
        lines_at_start = len(server.log().splitlines())

        with trio.fail_after(BOUND):
            conns = [await RawConnection.open(server.base_url) for _ in range(CONNECTIONS)]
            answers: list[Answer] = [None] * CONNECTIONS  # type: ignore[list-item]

            async def classify(i: int) -> None:
                answers[i] = await first_answer(conns[i])

            async with trio.open_nursery() as nursery:
                for i in range(CONNECTIONS):
                    nursery.start_soon(classify, i)
        held = [c for c, a in zip(conns, answers, strict=True) if a.status == 200]
        refused = [a for a in answers if a.status != 200]
        assert 0 < len(held) <= EXPECTED_CAP
        assert len(refused) == CONNECTIONS - len(held)
        assert {(a.status, a.headers["connection"], a.headers["retry-after"]) for a in refused} == {
            (503, "close", "1")
        }
        assert all(a.json() == BUSY for a in refused)

        with trio.fail_after(BOUND):
            # While the cap is taken, a new client is told so at once ...
            probe = await RawConnection.open(server.base_url)
            assert (await probe.answer()).status == 503
            # ... and once connections go, it is served again.
            for conn in held:
                await conn.aclose()
            while True:
                probe = await RawConnection.open(server.base_url)
                await probe.send(raw.request("GET", "/health", headers=(("connection", "close"),)))
                if (await probe.answer()).status == 200:
                    break
                await trio.sleep(QUIET / 10)
        for conn in conns:
            await conn.aclose()

        log = server.log()
        assert "Traceback" not in log
        refusals = [line for line in log.splitlines() if "at the connection limit" in line]
        assert 1 <= len(refusals) <= 3, log  # one line per 10 s, with a count
        # Besides each served request's access line, the log stays short.
        added = log.splitlines()[lines_at_start:]
        assert len([line for line in added if '"atp.access"' not in line]) <= 5, log


def test_the_soft_open_files_limit_is_raised_to_the_hard_one() -> None:
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    low = partial(resource.setrlimit, resource.RLIMIT_NOFILE, (LIMIT, hard))
    code = "from atp.http import raise_open_files_limit as r; print(r())"
    done = subprocess.run(
        [sys.executable, "-c", code], preexec_fn=low, capture_output=True, text=True, check=True
    )
    expected = hard if hard != resource.RLIM_INFINITY else 65_536
    assert re.search(rf"soft={expected},.*raised_from={LIMIT}\)", done.stdout), done.stdout


async def test_a_cap_set_above_what_the_limit_leaves_room_for_is_warned_of(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    env = server_env("sqlite", tmp_path, request)
    env["ATP_MAX_CONNECTIONS"] = "5000"
    low = partial(resource.setrlimit, resource.RLIMIT_NOFILE, (LIMIT, LIMIT))
    async with ServerProcess(env, tmp_path, preexec_fn=low) as server:
        await server.start()
        log = server.log()
    assert "at most 5000 HTTP connections" in log, log
    warning = "ATP_MAX_CONNECTIONS=5000 is more than the open-files limit leaves room for"
    assert f"{warning} ({EXPECTED_CAP})" in log, log
