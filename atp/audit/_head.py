"""The committed tree as this process knows it, and what a writer of the log promises.

The log is written by its follower, in this process or in a child of it
(``atp.audit._process``); either way it reports each committed page here, and the
log's readers wait here for it to grow.
"""

from __future__ import annotations

from typing import Protocol

import trio

from atp.audit._follower import TreeHead

__all__ = ["LogHead", "LogWriter"]


class LogHead:
    """The newest committed tree reported by the log's writer; None before its first."""

    def __init__(self) -> None:
        self.tree: TreeHead | None = None
        self._grown = trio.Event()

    @property
    def size(self) -> int:
        return 0 if self.tree is None else self.tree.size

    def advance(self, tree: TreeHead) -> None:
        self.tree = tree
        self._grown.set()
        self._grown = trio.Event()

    async def wait_grown(self, size: int) -> None:
        """Wait until the log holds more than ``size`` records."""
        while self.size <= size:
            await self._grown.wait()


class LogWriter(Protocol):
    """The follower that writes the log, wherever it runs."""

    @property
    def position(self) -> int:
        """The ledger notification the log has reached."""

    @property
    def exits(self) -> int:
        """Times the writer's process exited and was started again (0 inline)."""

    async def run(self, *, task_status: trio.TaskStatus[None] = ...) -> None:
        """Write the log until cancelled."""

    async def wait_current(self) -> None:
        """Read-your-writes: wait until the log holds every event committed so far (or
        cannot: it is stuck on one, or its writer is down)."""
