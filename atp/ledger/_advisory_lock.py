"""The PostgreSQL store's writer lock: a session advisory lock on a connection of its own.

The key is two 32-bit halves, so that one ledger's keys share the first:

    pg_try_advisory_lock(hashtext('atp:' || current_schema()), hashtext('ledger'))

Advisory locks are per database already; the schema (the one the carrier's tables are
in, from ``?schema=``, else ``public``) tells apart ledgers in one database. The lock
lives as long as its session: the kernel closes a dead process's socket and
PostgreSQL ends the session, and with it the lock. A holder that vanished without
closing (a lost machine) is found by keepalives set on both ends of this connection
(10 s idle, then 3 probes 5 s apart). Who holds it: ``pg_locks`` joined with
``pg_stat_activity``, whose ``application_name`` for this connection is the holder
(:meth:`Holder.to_name`), visible to every role.

The lock can be lost with its connection (PostgreSQL restarted, the network, an
operator's ``pg_terminate_backend``). ``run`` waits for the socket to become readable,
which an idle session's socket only does when the server says something (the
termination notice) or the connection breaks, so noticing costs no round trip and no
polling. It then takes the lock again on a new connection, retrying while PostgreSQL is
away, and gives up for good (``TAKEN``) if another process holds it. Between the loss
and the notice (milliseconds when the server ends the session, keepalive time on a
silent network) a commit could still start; the ledger's unique (aggregate, version)
keeps two writers from both extending one aggregate's history even then.
"""

from __future__ import annotations

import contextlib
import enum
import logging
import time
from typing import Any

import attrs
import psycopg
import trio
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from atp.ledger._bridge import Bridge
from atp.ledger._ownership import LEDGER, Holder, LedgerInUse, LockState, WriterLock
from atp.ledger._stores import PostgresTarget

__all__ = ["AdvisoryLock"]

log = logging.getLogger(__name__)

_KEEPALIVES = {
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
    "tcp_user_timeout": 25_000,
    "connect_timeout": 10,
}
# The same on the server's end, so a vanished holder's session (and lock) ends too.
_SERVER_KEEPALIVES = (
    "-c tcp_keepalives_idle=10 -c tcp_keepalives_interval=5 -c tcp_keepalives_count=3"
)
# How long the session of a holder gone from this host may outlive it (the kernel closed
# its socket; PostgreSQL ends the session when it reads that: milliseconds).
_STALE_WAIT = 10.0
_RETRY_FIRST = 0.05
_RETRY_MAX = 2.0

_KEYS = "SELECT hashtext('atp:' || coalesce(current_schema(), %s)), hashtext(%s)"
_TRY = "SELECT pg_try_advisory_lock(%s::int4, %s::int4)"
_UNLOCK = "SELECT pg_advisory_unlock(%s::int4, %s::int4)"
_HOLDER = """
    SELECT l.pid, a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
    WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
      AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
      AND l.classid = %s::int4::oid AND l.objid = %s::int4::oid
"""


class _Seen(enum.Enum):
    """Who holds the key, as one attempt saw it."""

    ENDING = "ending"  # this process's own session from before a loss (asked to end), or no one
    GONE = "gone"  # a process no longer running on this host: its session ends by itself
    LIVE = "live"  # another process


@attrs.frozen
class _Busy:
    """Someone holds the key."""

    holder: Holder | None
    seen: _Seen


class AdvisoryLock(WriterLock):
    """The writer lock of the PostgreSQL ledger at ``target``."""

    def __init__(self, target: PostgresTarget, holder: Holder, key: str = LEDGER) -> None:
        where = f"postgresql://{target.host}:{target.port}/{target.dbname}"
        if target.schema:
            where += f"?schema={target.schema}"
        super().__init__(f"the ledger at {where}", holder, key)
        self._schema = target.schema or "public"
        options = conninfo_to_dict(target.conninfo()).get("options") or ""
        self._conninfo = make_conninfo(
            target.conninfo(),
            options=f"{options} {_SERVER_KEEPALIVES}".strip(),
            application_name=holder.to_name(),
            **_KEEPALIVES,
        )
        self._keys: tuple[int, int] | None = None
        self._conn: psycopg.Connection[Any] | None = None
        self._backend: int | None = None  # the lock session's backend, kept after a loss

    @property
    def backend_pid(self) -> int | None:
        """The PostgreSQL backend of the lock's session (for tests and operators)."""
        return None if self._conn is None or self._conn.closed else self._conn.info.backend_pid

    def acquire(self) -> None:
        """Take the lock, or raise :class:`LedgerInUse` naming its holder.

        A holder gone from this host (killed a moment ago) is waited for, briefly: its
        session ends as soon as PostgreSQL reads the socket the kernel closed.

        Raises:
            LedgerInUse: another process holds it.
            psycopg.OperationalError: PostgreSQL cannot be reached.
        """
        deadline = time.monotonic() + _STALE_WAIT
        while (busy := self._attempt()) is not None:
            if busy.seen is _Seen.LIVE or time.monotonic() > deadline:
                raise LedgerInUse(self.ledger, busy.holder)
            time.sleep(_RETRY_FIRST)
        self._set_state(LockState.HELD)

    def release(self) -> None:
        """Unlock and close the connection (the session's end would unlock it too)."""
        conn, self._conn = self._conn, None
        if conn is None:
            return
        with contextlib.suppress(psycopg.Error):
            if not conn.closed and self.held:
                conn.execute(_UNLOCK, self._keys)
        conn.close()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Keep the lock until cancelled; return early if another process took it.

        Its store calls bypass the carrier's record of the store (``Bridge.run_always``):
        this task is how the lock finds its way back after an outage, so it must keep
        trying while the rest of the carrier is told the store is away.
        """
        bridge = Bridge(1)
        task_status.started()
        while self.state is LockState.HELD:
            await self._until_lost(bridge)
            self._set_state(LockState.LOST)
            log.warning("%s: lost the writer lock with its connection; retaking it", self.ledger)
            await self._retake(bridge)

    async def _until_lost(self, bridge: Bridge) -> None:
        conn = self._conn
        while conn is not None and not conn.closed:
            # Readable only when the server speaks or the connection breaks.
            await trio.lowlevel.wait_readable(conn.fileno())
            if not await bridge.run_always(_alive, conn):
                return

    async def _retake(self, bridge: Bridge) -> None:
        delay = _RETRY_FIRST
        failure = ""
        gone_until: float | None = None
        while True:
            try:
                busy = await bridge.run_always(self._attempt)
            except psycopg.Error as exc:  # PostgreSQL is away: wait for it
                if type(exc).__name__ != failure:  # class only: the text can quote the URL
                    failure = type(exc).__name__
                    log.warning("%s: cannot take the lock yet (%s)", self.ledger, failure)
                busy = _Busy(None, _Seen.ENDING)
            if busy is None:
                self._set_state(LockState.HELD)
                log.warning("%s: took the writer lock again", self.ledger)
                return
            if busy.seen is _Seen.GONE and gone_until is None:
                gone_until = trio.current_time() + _STALE_WAIT
            if busy.seen is _Seen.LIVE or (
                gone_until is not None and trio.current_time() > gone_until
            ):
                self._set_state(LockState.TAKEN, busy.holder)
                log.error("%s: another process took the writer lock; stopping", self.ledger)
                return
            await trio.sleep(delay)
            delay = min(2 * delay, _RETRY_MAX)

    def _attempt(self) -> _Busy | None:
        """One try on a new connection: None if this process now holds the lock.

        This process's own session from before a loss (the server has not noticed the
        break yet) is asked to end: same backend, same name.
        """
        conn: psycopg.Connection[Any] | None = psycopg.connect(self._conninfo, autocommit=True)
        assert conn is not None
        try:
            if self._keys is None:
                self._keys = conn.execute(_KEYS, (self._schema, self.key)).fetchone()
            if conn.execute(_TRY, self._keys).fetchone()[0]:  # type: ignore[index]
                self._conn, self._backend, conn = conn, conn.info.backend_pid, None
                return None
            row = conn.execute(_HOLDER, self._keys).fetchone()
            if row is None:  # released in between
                return _Busy(None, _Seen.ENDING)
            backend, name = row
            holder = Holder.from_name(name)
            if backend == self._backend and name == self.holder.to_name():
                with contextlib.suppress(psycopg.Error):
                    conn.execute("SELECT pg_terminate_backend(%s)", (backend,))
                return _Busy(holder, _Seen.ENDING)
            if holder is not None and holder.is_gone():
                return _Busy(holder, _Seen.GONE)
            return _Busy(holder, _Seen.LIVE)
        finally:
            if conn is not None:
                conn.close()


def _alive(conn: psycopg.Connection[Any]) -> bool:
    """Whether the lock's session still answers (closing it if not)."""
    try:
        conn.execute("SELECT 1")
    except psycopg.Error:
        conn.close()
        return False
    return True
