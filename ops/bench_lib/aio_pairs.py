"""What the two asyncio generators (``rabbit_load``, ``nats_load``) share: a pair's flow
window, and running the pairs with the CPU clocks read at the window's edges. The
Trio twin of both is in ``e2e_load``."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from bench_lib.e2e_tally import GRACE, Cpu, E2eSpec, Tally

__all__ = ["Pair", "Worker", "run_pairs"]


class Pair:
    """A pair's flow window: the producer takes a slot per message, the consumer gives
    it back when the message is done (or its send failed)."""

    def __init__(self, window: int) -> None:
        self.slots = asyncio.Semaphore(window)
        self.outstanding = 0

    async def take(self, count: int) -> None:
        for _ in range(count):
            await self.slots.acquire()
        self.outstanding += count

    def give(self, count: int) -> None:
        self.outstanding -= count
        for _ in range(count):
            self.slots.release()


Worker = Callable[[E2eSpec, Tally, Pair, int], Awaitable[None]]


async def _clock(spec: E2eSpec, tally: Tally) -> None:
    await asyncio.sleep(max(tally.start - time.perf_counter(), 0))
    tally.cpu.append(Cpu.read(spec.server_pid))
    if spec.stop_after is None:
        await asyncio.sleep(max(tally.end - time.perf_counter(), 0))
        tally.cpu.append(Cpu.read(spec.server_pid))


async def run_pairs(spec: E2eSpec, produce: Worker, consume: Worker) -> Tally:
    """Each pair's producer (and consumer, if the scenario has them) as tasks, under a
    hard time cap; the CPU clocks are read at the window's start and end (in
    ``stop_after`` mode, once everything is done)."""
    start = time.perf_counter() + spec.warmup
    tally = Tally(start=start, end=start + spec.seconds, stop_after=spec.stop_after)
    tasks = [_clock(spec, tally)]
    for index in range(spec.pairs):
        pair = Pair(spec.window)
        tasks.append(produce(spec, tally, pair, index))
        if spec.consume:
            tasks.append(consume(spec, tally, pair, index))
    try:
        async with asyncio.timeout(spec.warmup + spec.seconds + 2 * GRACE):
            await asyncio.gather(*tasks)
    except TimeoutError:
        tally.notes.add("cut off by the hard time cap")
    if spec.stop_after is not None:
        tally.cpu.append(Cpu.read(spec.server_pid))
    return tally
