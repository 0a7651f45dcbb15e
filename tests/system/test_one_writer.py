"""One writer per ledger, as processes: while ``atp serve`` runs, a second ``atp serve``,
``atp projections rebuild`` and an ``atp migrate`` with something to apply exit 1 with
one line naming it (with nothing to apply, ``atp migrate`` says so and exits 0); a
SIGKILLed server leaves nothing behind; ledgers in two schemas of one database run
side by side; a server whose lock another process took while it was lost stops.
"""

from __future__ import annotations

import re
import socket
import sqlite3
import sys
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
import trio

from atp.ledger import Holder, Role, postgres_target, writer_lock
from atp.settings import Settings
from tests.support.subprocess_server import (
    READY_TIMEOUT,
    ServerProcess,
    another_schema,
    free_port,
    server_env,
)

pytestmark = pytest.mark.slow

SINCE = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"
OTHER = Holder(Role.SERVE, 999, "elsewhere", datetime(2026, 1, 1, tzinfo=UTC))
COMMANDS = {"serve": ["serve"], "rebuild": ["projections", "rebuild"], "migrate": ["migrate"]}


@pytest.fixture
def env(store: str, tmp_path: Path, request: pytest.FixtureRequest) -> dict[str, str]:
    return server_env(store, tmp_path, request)


def ledger_of(env: dict[str, str]) -> str:
    url = env.get("ATP_DATABASE_URL")
    if url is None:
        return f"the ledger at {env['ATP_DATA_DIR']}/"
    target = postgres_target(url)
    return f"the ledger at postgresql://{target.host}:{target.port}/{target.dbname}" + (
        f"?schema={target.schema}"
    )


def documented_key(url: str) -> str:
    """The lock's key as docs/operations.md gives it."""
    return f"hashtext('atp:{postgres_target(url).schema}'), hashtext('ledger')"


async def refused(env: dict[str, str], command: str, code: int = 1) -> tuple[str, str]:
    """Run ``atp <command>`` (on a port of its own), which must exit ``code``: (stdout,
    stderr)."""
    own = {**env, "ATP_PORT": "0"}
    with trio.fail_after(READY_TIMEOUT):
        done = await trio.run_process(
            [sys.executable, "-m", "atp", *COMMANDS[command]],
            env=own, capture_stdout=True, capture_stderr=True, check=False,
        )  # fmt: skip
    out, err = done.stdout.decode(), done.stderr.decode()
    assert done.returncode == code, out + err
    return out, err


def forget_last_migration(env: dict[str, str]) -> None:
    """Make the store's newest migration pending again, as a newer release would find it."""
    forget = (
        "DELETE FROM atp_schema_migrations WHERE version ="
        " (SELECT max(version) FROM atp_schema_migrations)"
    )
    url = env.get("ATP_DATABASE_URL")
    if url is None:
        with sqlite3.connect(Path(env["ATP_DATA_DIR"]) / "views.db") as conn:
            conn.execute(forget)
        return
    with psycopg.connect(postgres_target(url).conninfo(), autocommit=True) as pg:
        pg.execute(forget)


def names(holder: str, pid: int) -> re.Pattern[str]:
    me = f"pid {pid} on host {re.escape(socket.gethostname())}"
    return re.compile(f"{re.escape(holder)} \\({me}, since {SINCE}\\)")


async def test_while_a_server_runs_every_other_writer_exits_naming_it(
    env: dict[str, str], tmp_path: Path
) -> None:
    async with ServerProcess(env, tmp_path) as server:
        await server.start()
        assert server.process is not None
        holder = names("atp serve", server.process.pid).pattern
        out, _ = await refused(env, "migrate", code=0)  # nothing to apply: no lock needed
        assert out == "applied 0 migration(s): none needed\n"
        forget_last_migration(env)
        for command in COMMANDS:
            out, err = await refused(env, command)
            line = f"error: {re.escape(ledger_of(env))} is in use by {holder}\n"
            assert re.fullmatch(line, err), err
            assert "listening" not in out and "applied" not in out and "rebuilt" not in out


async def test_a_server_refuses_to_start_while_a_rebuild_holds_the_ledger(
    env: dict[str, str], tmp_path: Path
) -> None:
    settings = Settings.from_env({k: v for k, v in env.items() if k.startswith("ATP_")})
    with writer_lock(settings, Role.REBUILD) as rebuilding:
        _, err = await refused(env, "serve")
    holder = names("atp projections rebuild", rebuilding.holder.pid).pattern
    assert re.fullmatch(f"error: {re.escape(ledger_of(env))} is in use by {holder}\n", err), err


async def test_a_killed_server_leaves_no_lock_behind(env: dict[str, str], tmp_path: Path) -> None:
    async with ServerProcess(env, tmp_path) as server:
        await server.start()
        await server.kill()
        await server.start()  # fails the test unless it comes up


@pytest.mark.parametrize("store", ["postgres"], indirect=True)
async def test_servers_on_two_schemas_of_one_database_both_run(
    env: dict[str, str], tmp_path: Path
) -> None:
    with another_schema(env["ATP_DATABASE_URL"]) as other_url:
        (tmp_path / "b").mkdir()
        other = {**env, "ATP_DATABASE_URL": other_url, "ATP_PORT": str(free_port())}
        other["ATP_DATA_DIR"] = str(tmp_path / "b" / "var")
        await trio.run_process([sys.executable, "-m", "atp", "migrate"], env=other)
        async with ServerProcess(env, tmp_path) as a, ServerProcess(other, tmp_path / "b") as b:
            await a.start()
            await b.start()


@pytest.mark.parametrize("store", ["postgres"], indirect=True)
async def test_a_server_whose_lost_lock_another_process_took_stops(
    env: dict[str, str], tmp_path: Path
) -> None:
    url = env["ATP_DATABASE_URL"]
    async with ServerProcess(env, tmp_path) as server:
        await server.start()
        assert server.process is not None
        conninfo = postgres_target(url).conninfo()
        with psycopg.connect(conninfo, autocommit=True, application_name=OTHER.to_name()) as pg:
            [(backend,)] = pg.execute(
                "SELECT pid FROM pg_stat_activity WHERE application_name LIKE %s",
                (f"atp serve {server.process.pid} %",),
            ).fetchall()
            # End the server's lock session and queue for the lock ahead of its return.
            taken = f"SELECT pg_advisory_lock({documented_key(url)})"
            await trio.to_thread.run_sync(
                pg.execute, f"SELECT pg_terminate_backend({backend}); {taken}"
            )
            with trio.fail_after(READY_TIMEOUT):
                code = await server.process.wait()
        log = server.log()
        assert code == 1, log
        assert f"error: {ledger_of(env)} was taken over by {OTHER.describe()}" in log
        assert "Traceback" not in log
