"""The one bridge from Trio to blocking store code, and where store outages are told apart.

eventsourcing, psycopg and sqlite3 are synchronous here (psycopg's async API does not
run under Trio), so every store call runs in a worker thread. The limiter matches the
connection pool, so threads never queue inside the pool while holding a slot.

Every store call passes here, so this is the one place where a failure for want of the
store (``is_outage``) becomes ``StoreUnavailable`` and is reported to the process's
``StoreAvailability``; while the store is known to be away, calls fail at once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar, TypeVarTuple

import attrs
import trio

from atp.errors import StoreUnavailable
from atp.ledger._availability import StoreAvailability, StoreWatch, is_outage

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

    def __init__(self, threads: int, store: StoreAvailability | None = None) -> None:
        self.limiter = trio.CapacityLimiter(threads)
        self.store = StoreAvailability() if store is None else store

    async def run(self, fn: Callable[[*Ts], T], *args: *Ts) -> T:
        """Run ``fn(*args)`` in a worker thread and return its result.

        Cancellation waits for the thread: a store call that was started finishes (or
        fails) on its own, which keeps commits atomic.

        Raises:
            StoreUnavailable: the store is away (refused without a call), or this call
                failed for want of it; from the driver's error if there was one.
        """
        store = self.store
        if store.away:
            store.refused()
            raise StoreUnavailable("the store is away")
        try:
            return await trio.to_thread.run_sync(fn, *args, limiter=self.limiter)
        except Exception as exc:
            if not is_outage(exc):
                raise
            store.lost(exc)
            raise StoreUnavailable(f"a store call failed ({type(exc).__name__})") from exc

    async def run_always(self, fn: Callable[[*Ts], T], *args: *Ts) -> T:
        """:meth:`run` even while the store is away: for what must happen regardless
        (closing the store's connections), never for a request's work."""
        return await trio.to_thread.run_sync(fn, *args, limiter=self.limiter)

    def statistics(self) -> BridgeStatistics:
        """Thread use, for /metrics (reads counters; calls nothing)."""
        limiter = self.limiter
        return BridgeStatistics(
            int(limiter.borrowed_tokens),
            int(limiter.total_tokens),
            limiter.statistics().tasks_waiting,
        )

    async def read(self, fn: Callable[[*Ts], T], *args: *Ts) -> T:
        """:meth:`run` for a call that is safe to repeat (a read).

        If the call fails for want of the store, it is tried once more, once the store
        has been probed and found there: a connection broken by a blip is then gone
        from the pool, and the request it serves never sees the blip.

        Raises:
            StoreUnavailable: as :meth:`run`, when the second try fails too.
        """
        try:
            return await self.run(fn, *args)
        except StoreUnavailable as exc:
            if exc.__cause__ is None:  # refused: the store is known to be away
                raise
        await self.store.wait_checked()
        return await self.run(fn, *args)

    async def probe(self, fn: Callable[[*Ts], T], *args: *Ts, within: float) -> T:
        """Run a check of the store, even while it is away, for at most ``within`` s.

        A check that takes longer is abandoned (its thread finishes on its own): a
        caller that must answer within a bound (``/ready``, the watch) never waits
        for a store that does not answer.

        Raises:
            StoreUnavailable: no answer in time, or the call failed for want of the store.
        """
        with trio.move_on_after(within):
            try:
                return await trio.to_thread.run_sync(
                    fn, *args, limiter=self.limiter, abandon_on_cancel=True
                )
            except Exception as exc:
                if not is_outage(exc):
                    raise
                self.store.lost(exc)
                raise StoreUnavailable(f"a store check failed ({type(exc).__name__})") from exc
        self.store.lost(TimeoutError())
        raise StoreUnavailable(f"the store did not answer within {within:g} s")

    def watch(self, checks: Sequence[Callable[[], object]], within: float) -> StoreWatch:
        """The watch over this bridge's store: it runs ``checks`` in turn, all of them
        within ``within`` seconds (the ledger's and the views' databases)."""

        async def probe() -> None:
            deadline = trio.current_time() + within
            for check in checks:
                await self.probe(check, within=max(0.0, deadline - trio.current_time()))

        return StoreWatch(self.store, probe)
