"""Is the store there? One record of it for the process, and a watch that sees it come back.

A store call that fails for want of the store (a connection refused or lost, a pool
with no connection to give within its timeout) reports it with :meth:`lost`. That
alone closes nothing: after a blip one broken connection in a pool is common, and a
read is simply tried again. It wakes the :class:`StoreWatch`, which probes the store
at once. If the probe fails too, the store is *away*: until a probe succeeds, every
call through the bridge fails at once with ``StoreUnavailable`` (answered 503 with
``Retry-After``) instead of waiting for a connection, actors and the projection wait
for it to come back, and ``/ready`` says so without asking the store. Probes back off
(0.1 s, doubling to 1 s), so an outage costs a connection attempt a second and the
carrier serves again within about a second of the store's return.

Anything else that holds a connection of its own can share this record: report a lost
connection with :meth:`StoreAvailability.lost`, wait with
:meth:`StoreAvailability.wait_available`, and back off with :class:`Backoff`. The
writer lock does not: it is how the carrier gets back its right to write, so it keeps
trying on its own while this record says the store is away.
"""

from __future__ import annotations

import enum
import logging
import random
import sqlite3
from collections.abc import Awaitable, Callable

import attrs
import psycopg
import trio
from eventsourcing.persistence import InterfaceError, OperationalError, PersistenceError

__all__ = [
    "Backoff",
    "StoreAvailability",
    "StoreState",
    "StoreStatistics",
    "StoreWatch",
    "is_outage",
]

log = logging.getLogger("atp.store")

# sqlite3 raises OperationalError for a missing table as for a locked file; only these
# say the file is (for now) out of reach rather than that the code or schema is wrong.
_SQLITE_OUTAGES = (
    "database is locked",
    "disk i/o error",
    "unable to open database file",
    "database or disk is full",
    "attempt to write a readonly database",
)


def is_outage(exc: BaseException) -> bool:
    """Whether ``exc`` says the store is out of reach (worth a retry), rather than that
    the request or the data is wrong (a constraint, a type, a missing table)."""
    cause = exc.__cause__ if isinstance(exc, PersistenceError) and exc.__cause__ else exc
    if isinstance(cause, psycopg.OperationalError | psycopg.InterfaceError):
        return True  # refused, lost, admin shutdown, pool timeout, too many connections
    if isinstance(cause, sqlite3.OperationalError):
        return str(cause).lower().startswith(_SQLITE_OUTAGES)
    return isinstance(cause, OperationalError | InterfaceError)


@attrs.frozen
class Backoff:
    """Delays that double from ``first`` to at most ``cap`` seconds, each within ±10 %
    (so that many waiters do not come back in step)."""

    first: float
    cap: float

    def delay(self, failures: int) -> float:
        """How long to wait after ``failures`` failures in a row (1 or more)."""
        base = min(self.cap, self.first * 2.0 ** max(0, failures - 1))
        return base * random.uniform(0.9, 1.1)


class StoreState(enum.Enum):
    """What the carrier believes about its store."""

    AVAILABLE = "available"  # calls go through
    SUSPECT = "suspect"  # a call failed for want of it; the watch is probing; calls go through
    AWAY = "away"  # a probe failed too; calls fail at once until a probe succeeds


@attrs.frozen
class StoreStatistics:
    """For /metrics and logs: whether the store is there, and what outages cost."""

    available: bool
    state: str
    outages: int  # times it was found away
    lost_calls: int  # calls that failed for want of it
    refused_calls: int  # calls refused at once while it was away
    away_seconds: float  # how long it has been away (0 while available)


class StoreAvailability:
    """The process's one record of whether its store answers."""

    def __init__(self) -> None:
        self.state = StoreState.AVAILABLE
        self.watched = False  # a StoreWatch runs: SUSPECT is settled by its probe
        self._changed = trio.Event()
        self._away_since = 0.0
        self._outages = 0
        self._lost = 0
        self._refused = 0

    @property
    def away(self) -> bool:
        """Whether calls are refused at once (a probe found the store away)."""
        return self.state is StoreState.AWAY

    def lost(self, exc: BaseException) -> None:
        """A call failed for want of the store: have the watch probe it."""
        self._lost += 1
        if self.state is StoreState.AVAILABLE and self.watched:
            log.debug("store call failed (%s); probing the store", type(exc).__name__)
            self._set(StoreState.SUSPECT)

    def refused(self) -> None:
        """Count a call refused at once because the store is away."""
        self._refused += 1

    def found_away(self, exc: BaseException) -> None:
        """A probe failed: refuse calls until one succeeds."""
        if self.state is StoreState.AWAY:
            return
        self._outages += 1
        self._away_since = trio.current_time()
        # Class only: a driver's message can name hosts and users.
        log.warning(
            "the store is away (%s): requests answer 503 until it is back",
            type(exc.__cause__ or exc).__name__,
        )
        self._set(StoreState.AWAY)

    def found_back(self) -> None:
        """A probe succeeded: let calls through again."""
        if self.state is StoreState.AWAY:
            log.warning("the store is back after %.1f s", trio.current_time() - self._away_since)
        if self.state is not StoreState.AVAILABLE:
            self._set(StoreState.AVAILABLE)

    async def wait_available(self) -> None:
        """Wait until the store is not known to be away."""
        while self.state is StoreState.AWAY:
            await self._changed.wait()

    async def wait_checked(self) -> None:
        """Wait until the watch has settled a suspicion (found the store there, or away)."""
        while self.state is StoreState.SUSPECT:
            await self._changed.wait()

    async def wait_suspected(self) -> None:
        """Wait until a call has failed for want of the store (the watch's cue)."""
        while self.state is StoreState.AVAILABLE:
            await self._changed.wait()

    def _set(self, state: StoreState) -> None:
        self.state = state
        self._changed.set()
        self._changed = trio.Event()

    def statistics(self) -> StoreStatistics:
        """The current state and the counters."""
        away = trio.current_time() - self._away_since if self.away else 0.0
        return StoreStatistics(
            available=not self.away,
            state=self.state.value,
            outages=self._outages,
            lost_calls=self._lost,
            refused_calls=self._refused,
            away_seconds=away,
        )


class StoreWatch:
    """Probes the store whenever a call failed for want of it, and until it answers.

    ``probe`` must raise if the store does not answer, within a bounded time; it also
    clears broken connections out of the pools, so that calls let through after it
    find working ones.
    """

    def __init__(
        self,
        availability: StoreAvailability,
        probe: Callable[[], Awaitable[object]],
        backoff: Backoff = Backoff(first=0.1, cap=1.0),
    ) -> None:
        self.availability = availability
        self.probe = probe
        self.backoff = backoff

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Settle every suspicion, until cancelled."""
        availability = self.availability
        availability.watched = True
        task_status.started()
        try:
            while True:
                await availability.wait_suspected()
                failures = 0
                while True:
                    try:
                        await self.probe()
                    except Exception as exc:
                        failures += 1
                        availability.found_away(exc)
                        await trio.sleep(self.backoff.delay(failures))
                    else:
                        availability.found_back()
                        break
        finally:
            availability.watched = False
            if availability.state is StoreState.SUSPECT:  # nobody is left to settle it
                availability.found_back()
