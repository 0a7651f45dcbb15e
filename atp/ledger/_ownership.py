"""One writer per ledger: the lock a process holds while it may write, and who holds it.

Each mailbox and session is owned by exactly one actor, and that holds only if one
process writes the ledger: two ``atp serve`` on one ledger would both own every mailbox
(two claimers of one message, two sequence counters of one session). So every command
that writes (``atp serve``, ``atp projections rebuild``, ``atp migrate``) first takes
the ledger's writer lock, holds it for its whole life, and a second one is refused
with a line naming the holder.

This is the seam that scale-out changes. A lock covers one *key*; today the only key
is :data:`LEDGER`, the whole ledger. Several processes on one PostgreSQL would instead
hold one key per mailbox and session (``mailbox:<agent id>``), and a command whose key
another process holds is forwarded to that holder (``actors/_runtime.py``, ``_owner``).

Obligations of a lock:

- ``held`` is a cheap read (no I/O): the journal checks it before every commit.
- It is released by the operating system or the database when its process dies, so a
  crash leaves nothing to clean up by hand.
- ``run`` keeps it: a lock that can be lost (a PostgreSQL session) notices the loss,
  is not ``held`` until it is taken again, and goes to ``TAKEN`` for good if another
  process took it meanwhile; ``wait_taken`` then returns and the process stops.
"""

from __future__ import annotations

import enum
import os
import re
import socket
from datetime import UTC, datetime
from types import TracebackType
from typing import Self

import attrs
import trio

from atp.errors import StoreUnavailable

__all__ = [
    "LEDGER",
    "Holder",
    "LedgerInUse",
    "LedgerNotHeld",
    "LedgerTaken",
    "LockState",
    "Role",
    "WriterLock",
    "WriterLockStatistics",
]

LEDGER = "ledger"  # the one key today: the whole ledger


class Role(enum.StrEnum):
    """Which command holds the lock (stored in the lock file and the session's name)."""

    SERVE = "serve"
    REBUILD = "rebuild"
    MIGRATE = "migrate"
    IMPORT = "import"

    @property
    def command(self) -> str:
        """The command line an operator would recognise."""
        known = {"serve": "atp serve", "rebuild": "atp projections rebuild"}
        known["import"] = "atp ledger import"
        return known.get(self.value, f"atp {self.value}")


_COMPACT = "%Y%m%dT%H%M%SZ"
_NAME = re.compile(r"atp (?P<role>[a-z]+) (?P<pid>\d+) (?P<since>\d{8}T\d{6}Z) (?P<host>.*)")


@attrs.frozen
class Holder:
    """Who holds a lock: enough for an operator to find the process."""

    role: Role
    pid: int
    host: str
    since: datetime

    @classmethod
    def mine(cls, role: Role) -> Holder:
        """This process, holding the lock from now."""
        now = datetime.now(UTC).replace(microsecond=0)
        return cls(role, os.getpid(), socket.gethostname(), now)

    def describe(self) -> str:
        """``atp serve (pid 1234 on host h, since 2026-12-06T15:01:02Z)``."""
        since = self.since.strftime("%Y-%m-%dT%H:%M:%SZ")
        return f"{self.role.command} (pid {self.pid} on host {self.host}, since {since})"

    def is_gone(self) -> bool:
        """Whether this holder ran on this host and its process no longer exists."""
        if self.host != socket.gethostname():
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:  # alive, another user's
            return False
        return False

    def to_name(self) -> str:
        """A compact form for a PostgreSQL ``application_name`` (at most 63 bytes are kept;
        the host, last, is what gets cut)."""
        name = f"atp {self.role} {self.pid} {self.since.strftime(_COMPACT)} {self.host}"
        return name.encode("ascii", "replace").decode()[:63]

    @classmethod
    def from_name(cls, name: str | None) -> Holder | None:
        """The holder a ``to_name`` string describes, or None if it is not one."""
        match = _NAME.fullmatch(name or "")
        try:
            role = Role(match["role"]) if match else None
        except ValueError:
            role = None
        if match is None or role is None:
            return None
        since = datetime.strptime(match["since"], _COMPACT).replace(tzinfo=UTC)
        return cls(role, int(match["pid"]), match["host"], since)


class LedgerInUse(Exception):
    """Another process holds the ledger's writer lock: this one must not start."""

    def __init__(self, ledger: str, holder: Holder | None) -> None:
        self.ledger = ledger
        self.holder = holder
        who = holder.describe() if holder else "another process (it did not say who)"
        super().__init__(f"{ledger} is in use by {who}")


class LedgerTaken(Exception):
    """The lock was lost (its connection dropped) and another process took it meanwhile."""

    def __init__(self, ledger: str, holder: Holder | None) -> None:
        self.ledger = ledger
        self.holder = holder
        who = holder.describe() if holder else "another process"
        super().__init__(
            f"{ledger} was taken over by {who} while this process's lock was lost;"
            " stopped so as not to write beside it"
        )


class LedgerNotHeld(StoreUnavailable):
    """The writer lock is lost for now: nothing is committed until it is taken again.

    To a client this is the store being away (503 ``store_unavailable``, retry with the
    same key): the lock's connection dropped, most often with the database.
    """

    def __init__(self) -> None:
        super().__init__("the ledger's writer lock is lost; not committing until it is back")


class LockState(enum.Enum):
    """Where a held lock stands."""

    HELD = "held"  # this process is the ledger's one writer
    LOST = "lost"  # its connection dropped: being taken again, no commits meanwhile
    TAKEN = "taken"  # another process took it while it was lost: stop, never write again


@attrs.frozen
class WriterLockStatistics:
    """For /metrics: the state, how often the lock was taken (1 + re-takes), and lost."""

    state: LockState
    acquired: int
    lost: int


class WriterLock:
    """The writer lock of one ledger, held by this process. Subclasses pick the mechanism.

    Use as a context manager around everything that writes: ``acquire`` on entry
    (raises :class:`LedgerInUse`), ``release`` on exit.
    """

    def __init__(self, ledger: str, holder: Holder, key: str = LEDGER) -> None:
        self.ledger = ledger  # "the ledger at var/": for messages
        self.holder = holder
        self.key = key
        self.taken_by: Holder | None = None
        self._state = LockState.LOST  # not yet acquired
        self._acquired = 0
        self._lost = 0
        self._changed = trio.Event()

    def acquire(self) -> None:
        """Take the lock now (blocking: call it before ``trio.run``).

        Raises:
            LedgerInUse: another process holds it.
        """
        raise NotImplementedError

    def release(self) -> None:
        """Give the lock up (blocking; idempotent)."""
        raise NotImplementedError

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Keep the lock until cancelled. This base's lock cannot be lost (a file lock)."""
        task_status.started()
        await trio.sleep_forever()

    @property
    def held(self) -> bool:
        """Whether this process may write now. No I/O: cheap enough for every commit."""
        return self._state is LockState.HELD

    @property
    def state(self) -> LockState:
        """Where the lock stands."""
        return self._state

    async def wait_held(self) -> None:
        """Wait until the lock is held (at once if it is).

        Raises:
            LedgerTaken: another process took it; it will not come back.
        """
        while not self.held:
            if self._state is LockState.TAKEN:
                raise LedgerTaken(self.ledger, self.taken_by)
            await self._changed.wait()

    async def wait_taken(self) -> None:
        """Wait until another process has taken the lock from this one (usually never)."""
        while self._state is not LockState.TAKEN:
            await self._changed.wait()

    async def wait_changed(self) -> None:
        """Wait for the next change of state."""
        await self._changed.wait()

    def statistics(self) -> WriterLockStatistics:
        """Counters for /metrics."""
        return WriterLockStatistics(self._state, self._acquired, self._lost)

    def _set_state(self, state: LockState, taken_by: Holder | None = None) -> None:
        if state is LockState.HELD:
            self._acquired += 1
        elif self._state is LockState.HELD:
            self._lost += 1
        self._state = state
        self.taken_by = taken_by
        changed, self._changed = self._changed, trio.Event()
        changed.set()

    def __enter__(self) -> Self:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
