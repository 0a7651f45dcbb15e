"""Server subprocesses: ATP on a fresh store, and the bare Quart-Trio ceiling.

Each server listens on 127.0.0.1 on a free port, logs to a file in the work directory,
and is stopped with SIGTERM (then SIGKILL after a timeout). A PostgreSQL run gets a
fresh schema, migrated with ``atp migrate`` before the start and dropped afterwards.
"""

from __future__ import annotations

import http.client
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
from psycopg import sql

__all__ = [
    "OPS_DIR",
    "PG_URL",
    "SECRET_KEY",
    "Server",
    "ServerError",
    "atp_server",
    "ceiling_server",
    "child_env",
    "free_port",
    "machine_cpu_seconds",
    "wait_cpu_idle",
]

OPS_DIR = Path(__file__).resolve().parent.parent
PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
SECRET_KEY = "bench-secret"
# The base64 of 32 bytes: a bench ledger is thrown away.
AUDIT_KEY = "66_ISi0cnDn-4IXFK18JjmoHxXBPuUBAlz1iL1Plknw"
READY_TIMEOUT = 90.0
STOP_TIMEOUT = 20.0
_ISSUE = re.compile(r"\b(WARNING|ERROR|CRITICAL)\b|Traceback|Exception")


class ServerError(Exception):
    """A server did not start, did not get ready, or its store could not be prepared."""


@dataclass
class Server:
    """A running server subprocess."""

    name: str
    proc: subprocess.Popen[bytes]
    port: int
    log_path: Path
    store: dict[str, str] = field(default_factory=dict)  # ATP's ATP_DATA_DIR or _DATABASE_URL

    @property
    def pid(self) -> int:
        return self.proc.pid

    def rss_mb(self) -> float:
        """The process's resident set size (``VmRSS``) in MiB."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise ServerError(f"no VmRSS for pid {self.pid}")

    def cpu_seconds(self) -> float:
        """User plus system CPU time of the process (all threads), in seconds."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def wait_idle(self, *, busy: float = 0.05, interval: float = 0.5, limit: float = 60.0) -> float:
        """Wait until the server uses under ``busy`` of a core (journal, projections done).

        Returns the seconds waited; gives up (returns) after ``limit`` seconds.
        """
        return wait_cpu_idle(self.cpu_seconds, busy=busy, interval=interval, limit=limit)

    def log_issues(self, expected: tuple[str, ...] = ()) -> list[str]:
        """Log lines that look like warnings, errors or tracebacks, except ``expected``
        ones (lines containing one of those strings)."""
        if not self.log_path.exists():
            return []
        lines = self.log_path.read_text(errors="replace").splitlines()
        return [
            line
            for line in lines
            if _ISSUE.search(line) and not any(text in line for text in expected)
        ]

    def log_tail(self, lines: int = 30) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def wait_cpu_idle(
    cpu_seconds: Callable[[], float],
    *,
    busy: float = 0.05,
    interval: float = 0.5,
    limit: float = 60.0,
) -> float:
    """Wait until a process (``cpu_seconds`` reads its clock) uses under ``busy`` of a
    core over ``interval``; the seconds waited, at most about ``limit``."""
    started = time.monotonic()
    before = cpu_seconds()
    while time.monotonic() - started < limit:
        time.sleep(interval)
        after = cpu_seconds()
        if after - before < busy * interval:
            break
        before = after
    return time.monotonic() - started


def machine_cpu_seconds() -> float:
    """Busy CPU seconds of the whole machine, all cores (``/proc/stat``)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    """A port that was free on 127.0.0.1 a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def child_env(extra: dict[str, str], source: Path | None = None) -> dict[str, str]:
    """The parent's environment without any ``ATP_*`` (the carrier rejects unknown ones).

    ``source``: another checkout whose ``atp`` (and ``actors``, ``projections``) the child
    imports instead of this one's (``--compare``); it comes first on ``PYTHONPATH``.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATP_")}
    paths = [str(source) if source else "", str(OPS_DIR), env.get("PYTHONPATH")]
    env["PYTHONPATH"] = os.pathsep.join(filter(None, paths))
    env.update(extra)
    return env


def _start(name: str, argv: list[str], env: dict[str, str], port: int, log_dir: Path) -> Server:
    log_path = log_dir / f"{name}.log"
    with log_path.open("ab") as log:
        # Started in the log directory: ``python -m`` puts its working directory first on
        # sys.path, which would shadow a ``--compare`` tree with the checkout run from.
        proc = subprocess.Popen(
            argv,
            cwd=log_dir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = Server(name, proc, port, log_path)
    try:
        _wait_ready(server)
    except BaseException:
        _stop(server)
        raise
    return server


def _wait_ready(server: Server) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise ServerError(
                f"{server.name} exited with {server.proc.returncode}:\n{server.log_tail()}"
            )
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=2)
        try:
            conn.request("GET", "/ready")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        finally:
            conn.close()
        time.sleep(0.1)
    raise ServerError(f"{server.name} not ready after {READY_TIMEOUT:.0f} s:\n{server.log_tail()}")


def _stop(server: Server) -> None:
    if server.proc.poll() is not None:
        return
    server.proc.send_signal(signal.SIGTERM)
    try:
        server.proc.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        server.proc.kill()
        server.proc.wait(STOP_TIMEOUT)


@contextmanager
def ceiling_server(log_dir: Path) -> Iterator[Server]:
    """The bare Quart-Trio + Hypercorn endpoint (``bench_lib.ceiling``)."""
    port = free_port()
    argv = [sys.executable, "-m", "bench_lib.ceiling", "--port", str(port)]
    server = _start("ceiling", argv, child_env({}), port, log_dir)
    try:
        yield server
    finally:
        _stop(server)


def check_pg_url(url: str) -> None:
    """Only a loopback PostgreSQL, and no schema of its own (the bench makes one).

    Raises:
        ServerError: another host, or a ``?schema=`` already in the URL.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("postgresql", "postgres") or parts.hostname not in (
        "127.0.0.1",
        "localhost",
    ):
        raise ServerError("--pg-url must be postgresql://...@127.0.0.1:<port>/<db>")
    if parts.query:
        raise ServerError("--pg-url must not carry a query string; the bench picks the schema")


@contextmanager
def _fresh_schema(pg_url: str) -> Iterator[str]:
    schema = f"atp_bench_{secrets.token_hex(4)}"
    try:
        with psycopg.connect(pg_url, autocommit=True, connect_timeout=10) as conn:
            conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    except psycopg.Error as exc:
        where = urlsplit(pg_url)._replace(netloc=urlsplit(pg_url).hostname or "")
        raise ServerError(f"cannot create schema on {where.geturl()}: {exc}") from None
    try:
        yield schema
    finally:
        with psycopg.connect(pg_url, autocommit=True, connect_timeout=10) as conn:
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


@contextmanager
def atp_server(
    store: str,
    work_dir: Path,
    pg_url: str = PG_URL,
    extra_env: dict[str, str] | None = None,
    source: Path | None = None,
) -> Iterator[Server]:
    """``atp serve`` on a fresh store: a new data directory, or a new PostgreSQL schema.

    ``extra_env`` adds settings (``ATP_WEBHOOK_ALLOW_PRIVATE=1`` for the webhook mode);
    ``source`` runs another checkout's code (see ``child_env``).
    """
    port = free_port()
    atp_env = {"ATP_PORT": str(port), "ATP_BIND": "127.0.0.1", **(extra_env or {})}
    with _store_env(store, work_dir, pg_url) as store_env:
        settings = (source or Path(__file__).resolve().parents[2]) / "atp" / "settings.py"
        if "ATP_AUDIT_SIGNING_KEY" not in settings.read_text():  # a tree from before it
            store_env.pop("ATP_AUDIT_SIGNING_KEY", None)
        env = child_env(atp_env | store_env, source)
        if store == "postgres":
            migrate = subprocess.run(
                [sys.executable, "-m", "atp", "migrate"],
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            if migrate.returncode != 0:
                raise ServerError(f"atp migrate failed:\n{migrate.stdout}{migrate.stderr}")
        name = f"atp-{store}" + (f"-{source.name}" if source else "")
        server = _start(name, [sys.executable, "-m", "atp", "serve"], env, port, work_dir)
        server.store = store_env
        try:
            yield server
        finally:
            _stop(server)


@contextmanager
def _store_env(store: str, work_dir: Path, pg_url: str) -> Iterator[dict[str, str]]:
    if store == "sqlite":
        data_dir = work_dir / f"data-{secrets.token_hex(4)}"
        data_dir.mkdir()
        yield {"ATP_DATA_DIR": str(data_dir)}
    elif store == "postgres":
        check_pg_url(pg_url)
        with _fresh_schema(pg_url) as schema:
            yield {
                "ATP_DATABASE_URL": f"{pg_url}?schema={schema}",
                "ATP_SECRET_KEY": SECRET_KEY,
                "ATP_AUDIT_SIGNING_KEY": AUDIT_KEY,
            }
    else:
        raise ServerError(f"unknown store {store!r}")
