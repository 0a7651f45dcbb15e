"""The ledger's writer lock: one holder per ledger, named to whoever is refused, kept
through a lost connection, and given up for good when another process took it meanwhile.

These run the locks in-process against a real data directory and a real PostgreSQL;
tests/system/test_one_writer.py runs the commands as processes.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import attrs
import psycopg
import pytest
import trio

from atp.ledger import (
    AdvisoryLock,
    FileLock,
    Holder,
    LedgerInUse,
    LedgerTaken,
    LockState,
    Role,
    WriterLockStatistics,
    postgres_target,
    writer_lock,
)
from atp.settings import Settings
from tests.support.relay import tcp_relay
from tests.support.subprocess_server import another_schema

SINCE = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"
OTHER = Holder(Role.SERVE, 999, "elsewhere", datetime(2026, 1, 1, tzinfo=UTC))
postgres_only = pytest.mark.parametrize("store", ["postgres"], indirect=True)


def in_use_by(lock_ledger: str, command: str) -> re.Pattern[str]:
    me = f"pid {os.getpid()} on host {re.escape(socket.gethostname())}"
    return re.compile(f"{re.escape(lock_ledger)} is in use by {command} \\({me}, since {SINCE}\\)")


def test_a_second_lock_on_one_ledger_is_refused_naming_the_holder(settings: Settings) -> None:
    with writer_lock(settings, Role.SERVE) as first:
        assert first.held
        second = writer_lock(settings, Role.REBUILD)
        with pytest.raises(LedgerInUse) as refused:
            second.acquire()
        assert in_use_by(first.ledger, "atp serve").fullmatch(str(refused.value))
        assert not second.held
    with writer_lock(settings, Role.MIGRATE) as after:  # released on exit
        assert after.held


def test_the_lock_file_records_its_holder_and_is_emptied_on_release(tmp_path: Path) -> None:
    holder = Holder.mine(Role.REBUILD)
    with FileLock(tmp_path, holder) as lock:
        assert lock.path == tmp_path / "ledger.lock"
        recorded = lock.path.read_text()
        assert f'"pid": {os.getpid()}' in recorded and '"role": "rebuild"' in recorded
    assert lock.path.read_text() == ""


def test_a_holder_name_survives_postgres_application_name() -> None:
    holder = Holder(Role.REBUILD, 4194304, "h" * 80, datetime(2026, 12, 6, 15, 1, 2, tzinfo=UTC))
    name = holder.to_name()
    assert len(name) == 63 and name.startswith("atp rebuild 4194304 20261206T150102Z hhh")
    parsed = Holder.from_name(name)
    assert parsed is not None and parsed.host == name[-26:]
    assert (parsed.role, parsed.pid, parsed.since) == (holder.role, holder.pid, holder.since)
    assert Holder.from_name("psql") is None and Holder.from_name(None) is None


@postgres_only
def test_ledgers_in_two_schemas_of_one_database_do_not_block_each_other(
    settings: Settings,
) -> None:
    assert settings.database_url is not None
    with another_schema(settings.database_url) as other_url:
        other = Settings(data_dir=settings.data_dir, database_url=other_url)
        with writer_lock(settings, Role.SERVE) as first, writer_lock(other, Role.SERVE) as second:
            assert first.held and second.held
            assert first.ledger != second.ledger


def lock_session(url: str, holder: Holder) -> psycopg.Connection[tuple[object, ...]]:
    """A session named like ``holder``, for taking a ledger's lock by the documented key."""
    conninfo = postgres_target(url).conninfo()
    return psycopg.connect(conninfo, autocommit=True, application_name=holder.to_name())


def documented_key(url: str) -> str:
    schema = postgres_target(url).schema
    return f"hashtext('atp:{schema}'), hashtext('ledger')"


@pytest.fixture
def advisory(settings: Settings) -> Iterator[AdvisoryLock]:
    assert settings.database_url is not None
    with AdvisoryLock(postgres_target(settings.database_url), Holder.mine(Role.SERVE)) as lock:
        yield lock


@postgres_only
async def test_a_lock_whose_session_is_ended_is_taken_again(
    advisory: AdvisoryLock, settings: Settings
) -> None:
    assert settings.database_url is not None
    first = advisory.backend_pid
    async with trio.open_nursery() as nursery:
        await nursery.start(advisory.run)
        with lock_session(settings.database_url, OTHER) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (first,))
        with trio.fail_after(10):
            while advisory.statistics().acquired < 2:
                await advisory.wait_changed()
        assert advisory.held and advisory.statistics().lost == 1
        assert advisory.backend_pid not in (None, first)
        # Held by this process again: another process is refused.
        with pytest.raises(LedgerInUse):
            await trio.to_thread.run_sync(writer_lock(settings, Role.REBUILD).acquire)
        nursery.cancel_scope.cancel()


@postgres_only
async def test_a_lock_another_process_took_while_it_was_lost_is_given_up(
    advisory: AdvisoryLock, settings: Settings
) -> None:
    assert settings.database_url is not None
    with lock_session(settings.database_url, OTHER) as other:
        async with trio.open_nursery() as nursery:
            await nursery.start(advisory.run)
            # One message, run in order by the server: end the holder's session, then
            # wait in the lock's queue, ahead of the holder's reconnection.
            ended = f"SELECT pg_terminate_backend({advisory.backend_pid})"
            taken = f"SELECT pg_advisory_lock({documented_key(settings.database_url)})"
            await trio.to_thread.run_sync(other.execute, f"{ended}; {taken}")
            with trio.fail_after(10):
                await advisory.wait_taken()
        assert advisory.state is LockState.TAKEN and not advisory.held
        assert advisory.taken_by == OTHER
        with pytest.raises(LedgerTaken, match=r"taken over by atp serve \(pid 999 on host else"):
            await advisory.wait_held()


# Takes the lock as a holder named after itself, then forks: it exits at once, and its
# child keeps the session (the inherited socket) open a few seconds longer, as a killed
# holder's session outlives it until PostgreSQL reads the closed socket. Long enough for
# the test to see the session and start waiting on a loaded machine; the wait is 10 s.
GONE_HOLDER = """
import os, sys, time
import psycopg
from atp.ledger import Holder, Role
conn = psycopg.connect(sys.argv[1], application_name=Holder.mine(Role.SERVE).to_name())
conn.execute("SELECT pg_advisory_lock(" + sys.argv[2] + ")")
if os.fork():
    print(os.getpid(), flush=True)
    os._exit(0)
os.dup2(os.open(os.devnull, os.O_WRONLY), 1)  # the parent's reader waits for no one
os.dup2(1, 2)
time.sleep(3)
os._exit(0)
"""


@postgres_only
def test_a_session_outliving_its_holder_on_this_host_is_waited_for(settings: Settings) -> None:
    assert settings.database_url is not None
    conninfo = postgres_target(settings.database_url).conninfo()
    key = documented_key(settings.database_url)
    gone = subprocess.run([sys.executable, "-c", GONE_HOLDER, conninfo, key],
                          check=True, capture_output=True, text=True, timeout=30)  # fmt: skip
    with psycopg.connect(conninfo) as pg:  # the session is still there, holding the lock
        [(name,)] = pg.execute(
            f"SELECT application_name FROM pg_locks l JOIN pg_stat_activity a USING (pid)"
            f" WHERE locktype = 'advisory' AND classid = ({key.split(',')[0]})::oid"
        ).fetchall()
    assert name.startswith(f"atp serve {int(gone.stdout)} ")
    with writer_lock(settings, Role.SERVE) as lock:
        assert lock.held


class _Logged(logging.Handler):
    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text
        self.seen = trio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if self.text in record.getMessage():
            self.seen.set()


@postgres_only
async def test_a_lock_lost_in_an_outage_is_taken_again_when_the_store_is_back(
    settings: Settings,
) -> None:
    assert settings.database_url is not None
    target = postgres_target(settings.database_url)
    retrying = _Logged("cannot take the lock yet")
    logging.getLogger("atp.ledger._advisory_lock").addHandler(retrying)
    try:
        async with trio.open_nursery() as nursery:
            async with tcp_relay(target.port) as relay:
                port = relay.port
                lock = AdvisoryLock(attrs.evolve(target, port=port), Holder.mine(Role.SERVE))
                await trio.to_thread.run_sync(lock.acquire)
                await nursery.start(lock.run)
            # The store is unreachable: the lock is lost and stays lost.
            with trio.fail_after(10):
                await retrying.seen.wait()
            assert lock.state is LockState.LOST and not lock.held
            async with tcp_relay(target.port, port):  # back, at the same address
                with trio.fail_after(10):
                    await lock.wait_held()
                assert lock.statistics() == WriterLockStatistics(LockState.HELD, acquired=2, lost=1)
                nursery.cancel_scope.cancel()
                await trio.to_thread.run_sync(lock.release)
    finally:
        logging.getLogger("atp.ledger._advisory_lock").removeHandler(retrying)


@postgres_only
async def test_after_a_network_break_the_holder_ends_its_old_session_and_retakes(
    settings: Settings,
) -> None:
    """The server still holds the lock for the session it has not seen break."""
    assert settings.database_url is not None
    target = postgres_target(settings.database_url)
    async with tcp_relay(target.port) as relay, trio.open_nursery() as nursery:
        lock = AdvisoryLock(attrs.evolve(target, port=relay.port), Holder.mine(Role.SERVE))
        await trio.to_thread.run_sync(lock.acquire)
        old = lock.backend_pid
        await nursery.start(lock.run)
        relay.cut()
        with trio.fail_after(10):
            while lock.statistics().acquired < 2:
                await lock.wait_changed()
        assert lock.held and lock.backend_pid not in (None, old)
        nursery.cancel_scope.cancel()
        await trio.to_thread.run_sync(lock.release)
