"""A real ``python -m atp serve`` subprocess, for the crash-recovery and shutdown tests.

Everything here is bounded: readiness is polled for at most ``READY_TIMEOUT`` seconds
(the subprocess runs in real time, so polling it is the only way to know it is up),
and every process started is killed when its ``ServerProcess`` context exits.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import signal
import socket
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from types import TracebackType

import httpx
import psycopg
import pytest
import trio

from atp.ledger import postgres_target
from tests.support.helpers import AUDIT_KEY, Api

__all__ = [
    "READY_TIMEOUT", "ServerProcess", "another_schema", "client", "free_port", "hold_views",
    "server_env",
]  # fmt: skip

READY_TIMEOUT = 15.0
_POLL = 0.05


def free_port() -> int:
    """A port that was free a moment ago (bind to 0, read it, close)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def server_env(store: str, tmp_path: Path, request: pytest.FixtureRequest) -> dict[str, str]:
    """The environment of a server on ``store``; on PostgreSQL, `atp migrate` has run."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATP_")}
    env["ATP_PORT"] = str(free_port())
    env["ATP_BIND"] = "127.0.0.1"
    env["ATP_DATA_DIR"] = str(tmp_path / "var")
    if store == "postgres":
        env["ATP_DATABASE_URL"] = request.getfixturevalue("postgres_url")
        env["ATP_SECRET_KEY"] = "subprocess-test-secret-key"
        env["ATP_AUDIT_SIGNING_KEY"] = AUDIT_KEY
        done = subprocess.run(
            [sys.executable, "-m", "atp", "migrate"],
            env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
    return env


@contextmanager
def another_schema(postgres_url: str) -> Iterator[str]:
    """``postgres_url`` with a fresh schema of its own in the same database (dropped after)."""
    schema = "atp_test_" + secrets.token_hex(6)
    conninfo = postgres_target(postgres_url).conninfo()
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield re.sub(r"schema=[^&]*", f"schema={schema}", postgres_url)
    finally:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


@contextmanager
def hold_views(env: dict[str, str]) -> Iterator[None]:
    """Keep the server's projection from committing while inside: the views fall behind.

    Sends never wait for the views, so they still succeed; killing the server inside
    leaves the state a crash leaves when the read models lag the ledger. Reads of the
    views go on (SQLite WAL readers; PostgreSQL ACCESS SHARE).
    """
    url = env.get("ATP_DATABASE_URL")
    if url is None:
        conn = sqlite3.connect(Path(env["ATP_DATA_DIR"]) / "views.db", isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")  # the projection's BEGIN IMMEDIATE now waits
            yield
            conn.execute("ROLLBACK")
        finally:
            conn.close()
        return
    with psycopg.connect(postgres_target(url).conninfo()) as pg:
        # Conflicts with the projection's upsert of its position (ROW EXCLUSIVE).
        pg.execute("LOCK TABLE atp_tracking IN SHARE ROW EXCLUSIVE MODE")
        yield
        pg.rollback()


class ServerProcess:
    """``python -m atp serve`` with ``env``; output goes to ``<workdir>/server.log``.

    Use as ``async with ServerProcess(env, tmp_path) as server:``; leaving the block
    SIGKILLs whatever is still running.
    """

    def __init__(
        self,
        env: dict[str, str],
        workdir: Path,
        preexec_fn: Callable[[], object] | None = None,  # runs in the child, before exec
        namespace: str | None = None,  # a network namespace to run it in (ip netns)
    ) -> None:
        self.env = env
        self.preexec_fn = preexec_fn
        self.namespace = namespace
        self.workdir = workdir
        self.log_path = workdir / "server.log"
        self._log = self.log_path.open("ab")
        self.process: trio.Process | None = None
        self.starts = 0

    @property
    def base_url(self) -> str:
        return f"http://{self.env.get('ATP_BIND', '127.0.0.1')}:{self.env['ATP_PORT']}"

    def log(self) -> str:
        """Everything the server processes printed so far."""
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    async def start(self, ready: int = 200) -> None:
        """Start the server and wait until ``GET /ready`` answers ``ready`` (200 unless a
        test expects it not ready), at most READY_TIMEOUT seconds."""
        assert self.process is None or self.process.returncode is not None, "already running"
        self.starts += 1
        self._log.write(f"--- start #{self.starts} ---\n".encode())
        self._log.flush()
        inside = ["ip", "netns", "exec", self.namespace] if self.namespace else []
        self.process = await trio.lowlevel.open_process(
            [*inside, sys.executable, "-m", "atp", "serve"],
            env=self.env, cwd=self.workdir, stdout=self._log, stderr=subprocess.STDOUT,
            preexec_fn=self.preexec_fn,
        )  # fmt: skip
        deadline = trio.current_time() + READY_TIMEOUT
        last = "no answer"
        async with httpx.AsyncClient(base_url=self.base_url, timeout=2) as http:
            while trio.current_time() < deadline:
                if self.process.returncode is not None or self.process.poll() is not None:
                    pytest.fail(f"server exited with {self.process.returncode}:\n{self.log()}")
                try:
                    r = await http.get("/ready")
                except httpx.TransportError as exc:
                    last = repr(exc)
                else:
                    if r.status_code == ready:
                        return
                    last = f"{r.status_code} {r.text}"
                await trio.sleep(_POLL)
        pytest.fail(f"server not ready after {READY_TIMEOUT} s ({last}):\n{self.log()}")

    def kill_now(self, *, children: bool = False) -> None:
        """SIGKILL the server at once (no graceful shutdown); callable from sync code.

        ``children``: its audit child too. On its own the child exits once it sees its
        stdin close, and until then it may still write to a schema a test's teardown
        is dropping (a deadlock in PostgreSQL)."""
        assert self.process is not None
        if self.process.returncode is None:
            if children:
                pid = self.process.pid
                with contextlib.suppress(OSError):
                    for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
                        with contextlib.suppress(ProcessLookupError):
                            os.kill(int(child), signal.SIGKILL)
            self.process.kill()

    async def kill(self, *, children: bool = False) -> None:
        """SIGKILL the server (and its ``children``) and reap it."""
        if self.process is None:
            return
        self.kill_now(children=children)
        with trio.CancelScope(shield=True), trio.move_on_after(10):
            await self.process.wait()

    async def stop(self, sig: signal.Signals, within: float) -> tuple[int | None, float]:
        """Send ``sig``; wait at most ``within`` seconds; return (exit code or None, seconds)."""
        assert self.process is not None and self.process.returncode is None
        started = trio.current_time()
        self.process.send_signal(sig)
        with trio.move_on_after(within):
            await self.process.wait()
        return self.process.returncode, trio.current_time() - started

    async def __aenter__(self) -> ServerProcess:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            await self.kill(children=True)
        finally:
            self._log.close()


@asynccontextmanager
async def client(server: ServerProcess) -> AsyncIterator[Api]:
    """A fresh client for one server lifetime (a killed server leaves dead connections)."""
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as http:
        yield Api(http)
