"""What the two asyncio generators (``rabbit_load``, ``nats_load``) share: a pair's flow
window, and running the pairs with the CPU clocks read at the window's edges. The
Trio twin of both is in ``e2e_load``."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from bench_lib.e2e_tally import GRACE, Cpu, E2eSpec, IdleWatch, Tally

__all__ = ["Pair", "Worker", "published", "run_pairs", "serve_spec"]


class Pair:
    """A pair's flow window: the producer takes a slot per message, the consumer gives
    it back when the message is done (or its send failed)."""

    def __init__(self, window: int) -> None:
        self.slots = asyncio.Semaphore(window)
        self.outstanding = 0

    async def take(self, count: int, until: float) -> bool:
        """Room for ``count`` messages; False if there was none by ``until`` (a
        ``perf_counter`` time: the window's end, after which the consumers stop)."""
        try:
            async with asyncio.timeout(max(until - time.perf_counter(), 0)):
                for _ in range(count):
                    await self.slots.acquire()
        except TimeoutError:
            return False
        self.outstanding += count
        return True

    def give(self, count: int) -> None:
        self.outstanding -= count
        for _ in range(count):
            self.slots.release()


def published(
    spec: E2eSpec, tally: Tally, pair: Pair, ids: list[str], outcomes: list[object]
) -> None:
    """Count a batch's publishes by outcome (an exception, or the broker's answer): a
    failed one gives its slot back at once; without consumers a sent one is done."""
    now = time.perf_counter()
    done = []
    for mid, outcome in zip(ids, outcomes, strict=True):
        if isinstance(outcome, BaseException):
            tally.fail(f"publish {type(outcome).__name__}", str(outcome))
            tally.unsent(mid)
        else:
            done.append(mid)
    if not spec.consume:
        tally.finished(done, now)
        pair.give(len(ids))
    elif len(done) < len(ids):
        pair.give(len(ids) - len(done))


# ``(spec, tally, pair, index, draining)``: a pair's producer or consumer.
Worker = Callable[[E2eSpec, Tally, Pair, int, bool], Awaitable[None]]


async def _clock(spec: E2eSpec, tally: Tally) -> None:
    await asyncio.sleep(max(tally.start - time.perf_counter(), 0))
    tally.cpu.append(Cpu.read(spec.server_pid))
    if spec.stop_after is None:
        await asyncio.sleep(max(tally.end - time.perf_counter(), 0))
        tally.cpu.append(Cpu.read(spec.server_pid))


async def run_pairs(spec: E2eSpec, produce: Worker, consume: Worker) -> Tally:
    """The window, the settling and the drain (see ``e2e_tally``): each pair's producer
    (and consumer, if the scenario has them) as tasks, under hard time caps."""
    start = time.perf_counter() + spec.warmup
    tally = Tally(start=start, end=start + spec.seconds, stop_after=spec.stop_after)
    pairs = [Pair(spec.window) for _ in range(spec.pairs)]
    tasks = [_clock(spec, tally)]
    for index, pair in enumerate(pairs):
        tasks.append(produce(spec, tally, pair, index, False))
        if spec.consume:
            tasks.append(consume(spec, tally, pair, index, False))
    try:
        async with asyncio.timeout(spec.warmup + spec.seconds + GRACE):
            await asyncio.gather(*tasks)
    except TimeoutError:
        tally.notes.add("cut off by the hard time cap")
    if spec.stop_after is not None:
        tally.cpu.append(Cpu.read(spec.server_pid))
    watch = IdleWatch(spec.server_pid)
    while True:  # the settling: until the server is idle
        await asyncio.sleep(IdleWatch.INTERVAL)
        if watch.idle():
            break
    tally.cpu.append(Cpu.read(spec.server_pid))
    tally.drain_until = time.perf_counter() + GRACE
    if spec.consume:
        drain = [consume(spec, tally, pair, index, True) for index, pair in enumerate(pairs)]
        try:
            async with asyncio.timeout(2 * GRACE):
                await asyncio.gather(*drain)
        except TimeoutError:
            pass
    return tally


def serve_spec(run: Callable[[E2eSpec], Awaitable[dict[str, Any]]]) -> None:
    """A broker's generator as a process: JSON spec on stdin, JSON result on stdout."""
    spec = E2eSpec.from_json(json.loads(sys.stdin.read()))
    json.dump(asyncio.run(run(spec)), sys.stdout)
