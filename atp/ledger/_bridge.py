"""The one bridge from Trio to blocking store code.

eventsourcing, psycopg and sqlite3 are synchronous here (psycopg's async API does not
run under Trio), so every store call runs in a worker thread. The limiter matches the
connection pool, so threads never queue inside the pool while holding a slot.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar, TypeVarTuple

import attrs
import trio

__all__ = ["Bridge", "BridgeStatistics"]

T = TypeVar("T")
Ts = TypeVarTuple("Ts")


@attrs.frozen
class BridgeStatistics:
    """Store calls running in threads now, the most that may, and calls waiting for one."""

    busy: int
    threads: int
    waiting: int


class Bridge:
    """Runs blocking calls in threads, at most ``threads`` at a time."""

    def __init__(self, threads: int) -> None:
        self.limiter = trio.CapacityLimiter(threads)

    async def run(self, fn: Callable[[*Ts], T], *args: *Ts) -> T:
        """Run ``fn(*args)`` in a worker thread and return its result.

        Cancellation abandons the thread's result but not the thread: a store call that
        was started finishes (or fails) on its own, which keeps commits atomic.
        """
        return await trio.to_thread.run_sync(fn, *args, limiter=self.limiter)

    def statistics(self) -> BridgeStatistics:
        """Thread use, for /metrics (reads counters; calls nothing)."""
        limiter = self.limiter
        return BridgeStatistics(
            int(limiter.borrowed_tokens),
            int(limiter.total_tokens),
            limiter.statistics().tasks_waiting,
        )
