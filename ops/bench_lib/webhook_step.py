"""Webhook mode: one rate step of open-loop durable sends, and its figures.

A scheduler releases send tickets on a fixed timetable (``start + i / rate``) into an
unbounded channel; ``senders`` tasks, each with its own keep-alive connection, take
tickets and make durable ``POST /api/messages`` calls (``Idempotency-Key``),
round-robin over the (sender, recipient) routes. A slow answer holds one sender only,
so it does not lower the offered rate (a closed loop would: it measures the server's
pace, not latency at a given rate). Tickets still waiting when the window ends are
dropped (they lower the achieved rate).

End-to-end latency of one message = the moment its push arrived at the ``Receiver``
minus the moment its ``POST /api/messages`` answer (201) was read, matched by the
message id. Both moments come from ``time.perf_counter`` in this one process. It can be
negative: the carrier may push before the bench has read the 201.
"""

from __future__ import annotations

import gc
import itertools
import json
import os
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import trio

from bench_lib.http import Connection, ProtocolError
from bench_lib.load import GRACE, MESSAGE, percentile, post_bytes
from bench_lib.webhook_receiver import Receiver

__all__ = ["Route", "StepConfig", "run_step"]

_TEXT = b"webhook benchmark: the quick brown fox jumps over the lazy dog 0123456789"


@dataclass(frozen=True)
class Route:
    """A sender's token and its recipient's address (same account: trusted, pushed)."""

    token: str
    to: str


@dataclass(frozen=True)
class StepConfig:
    """One rate step."""

    rate: float  # offered messages per second
    seconds: float  # measured window
    warmup: float  # unmeasured seconds at the same rate before the window
    drain: float  # seconds to wait for the last pushes after the window
    senders: int  # concurrent connections making the POSTs
    run_id: str


@dataclass
class _Ticket:
    seq: int
    due: float
    measured: bool


@dataclass
class _Tally:
    """Everything one step records, shared by its tasks."""

    window_start: float
    window_end: float
    returned: dict[str, float] = field(default_factory=dict)  # measured ids -> 201 read at
    in_window: int = 0  # measured 201s read before the window's end
    post_latency: list[float] = field(default_factory=list)  # measured, 201 only
    lag: list[float] = field(default_factory=list)  # measured: start - due
    warmup_ok: int = 0
    failed: Counter[str] = field(default_factory=Counter)  # warm-up included
    failure_samples: list[str] = field(default_factory=list)
    not_pushed: int = 0  # 201s without a webhook delivery in the answer
    unsent: int = 0  # measured tickets dropped at the window's end
    pending: set[str] = field(default_factory=set)  # measured, 201 read, push not yet in
    server_cpu: list[float] = field(default_factory=list)  # server CPU s at each window second
    sending_done: bool = False
    drained: trio.Event = field(default_factory=trio.Event)

    def arrived(self, message_id: str) -> None:
        self.pending.discard(message_id)
        if self.sending_done and not self.pending:
            self.drained.set()

    def fail(self, kind: str, detail: str) -> None:
        self.failed[kind] += 1
        if len(self.failure_samples) < 3:
            self.failure_samples.append(f"{kind}: {detail[:200]}")


async def _schedule(
    config: StepConfig, start: float, send: trio.MemorySendChannel[_Ticket]
) -> None:
    """Release tickets on the timetable; several at once if the loop fell behind."""
    async with send:
        end = start + config.warmup + config.seconds
        measured_from = start + config.warmup
        for seq in itertools.count():
            due = start + seq / config.rate
            if due >= end:
                return
            delay = due - time.perf_counter()
            if delay > 0:
                await trio.sleep(delay)
            send.send_nowait(_Ticket(seq, due, due >= measured_from))


async def _sender(
    port: int,
    routes: Sequence[Route],
    config: StepConfig,
    tally: _Tally,
    receiver: Receiver,
    tickets: trio.MemoryReceiveChannel[_Ticket],
) -> None:
    async with tickets, Connection(port) as conn:
        async for ticket in tickets:
            started = time.perf_counter()
            if started >= tally.window_end:
                tally.unsent += ticket.measured
                continue
            route = routes[ticket.seq % len(routes)]
            key = f"{config.run_id}-{ticket.seq}"
            body = MESSAGE % (route.to.encode(), key.encode(), _TEXT)
            data = post_bytes(port, "/api/messages", route.token, key, body)
            try:
                status, body = await conn.request(data)
            except (ProtocolError, OSError) as exc:
                tally.fail(f"send {type(exc).__name__}", str(exc))
                continue
            returned = time.perf_counter()
            if status != 201:
                tally.fail(f"send {status}", body.decode("utf-8", "replace"))
                continue
            reply = json.loads(body)
            if not reply.get("deliveries"):
                tally.not_pushed += 1
            if not ticket.measured:
                tally.warmup_ok += 1
                continue
            message_id: str = reply["message"]["id"]
            tally.returned[message_id] = returned
            tally.post_latency.append(returned - started)
            tally.lag.append(started - ticket.due)
            if returned <= tally.window_end:
                tally.in_window += 1
            if message_id not in receiver.arrivals:
                tally.pending.add(message_id)


async def _sample_cpu(tally: _Tally, cpu_probe: Callable[[], tuple[float, float]]) -> None:
    """The server's CPU seconds at the start of each second of the window, and its end."""
    for second in itertools.count():
        at = tally.window_start + second
        if at > tally.window_end + 0.001:
            return
        await trio.sleep(max(0.0, at - time.perf_counter()))
        tally.server_cpu.append(cpu_probe()[0])


def _ms(values: list[float], pct: float) -> float:
    return percentile(values, pct) * 1000


async def run_step(
    port: int,
    routes: Sequence[Route],
    receiver: Receiver,
    config: StepConfig,
    cpu_probe: Callable[[], tuple[float, float]],
) -> dict[str, Any]:
    """One rate step; its figures. ``cpu_probe()`` is (server CPU s, machine CPU s)."""
    start = time.perf_counter() + 0.05
    tally = _Tally(
        window_start=start + config.warmup,
        window_end=start + config.warmup + config.seconds,
    )
    receiver.on_arrival = tally.arrived
    server_cpu, machine_cpu = cpu_probe()
    own_cpu, wall = _own_cpu(), time.perf_counter()
    # A collection of the bench's own heap would show up as latency: none during a step.
    gc.collect()
    gc.disable()
    try:
        send, tickets = trio.open_memory_channel[_Ticket](float("inf"))
        with trio.move_on_after(config.warmup + config.seconds + GRACE + 1) as scope:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(_schedule, config, start, send)
                nursery.start_soon(_sample_cpu, tally, cpu_probe)
                async with tickets:
                    for _ in range(config.senders):
                        nursery.start_soon(
                            _sender, port, routes, config, tally, receiver, tickets.clone()
                        )
        sent_done = time.perf_counter()
        tally.sending_done = True
        if not tally.pending:
            tally.drained.set()
        with trio.move_on_after(config.drain):
            await tally.drained.wait()
        drained = time.perf_counter() - sent_done
    finally:
        receiver.on_arrival = None
        gc.enable()
    elapsed = time.perf_counter() - wall
    server_after, machine_after = cpu_probe()
    own = _own_cpu() - own_cpu
    latencies = sorted(
        receiver.arrivals[m] - t for m, t in tally.returned.items() if m in receiver.arrivals
    )
    post = sorted(tally.post_latency)
    lag = sorted(tally.lag)
    offered_count = round(config.rate * config.seconds)
    return {
        "rate": config.rate,
        "seconds": config.seconds,
        "senders": config.senders,
        "offered": offered_count,
        "ok": len(tally.returned),
        "achieved_rate": tally.in_window / config.seconds,
        "unsent": tally.unsent,
        "failed": sum(tally.failed.values()),
        "failures": dict(tally.failed),
        "failure_samples": tally.failure_samples,
        "not_pushed": tally.not_pushed,
        "delivered": len(latencies),
        "missing": len(tally.returned) - len(latencies),
        "drain_seconds": drained,
        "e2e": {
            "p50_ms": _ms(latencies, 50),
            "p90_ms": _ms(latencies, 90),
            "p99_ms": _ms(latencies, 99),
            "max_ms": latencies[-1] * 1000 if latencies else 0.0,
            "min_ms": latencies[0] * 1000 if latencies else 0.0,
            "mean_ms": sum(latencies) / len(latencies) * 1000 if latencies else 0.0,
            "over_50_ms": sum(v > 0.05 for v in latencies),
            "negative": sum(v < 0 for v in latencies),
        },
        "post": {"p50_ms": _ms(post, 50), "p99_ms": _ms(post, 99)},
        "lag": {"p50_ms": _ms(lag, 50), "p99_ms": _ms(lag, 99), "max_ms": _ms(lag, 100)},
        "cut_off": scope.cancelled_caught,
        "server_cpu_pct": 100 * (server_after - server_cpu) / elapsed,
        "bench_cpu_pct": 100 * own / elapsed,
        "machine_cpu_pct": 100 * (machine_after - machine_cpu) / elapsed,
        "timeline": _timeline(tally, receiver),
    }


def _timeline(tally: _Tally, receiver: Receiver) -> list[dict[str, float | None]]:
    """Per second of the window (by when the 201 was read): messages, their median and
    worst end-to-end latency (ms), and the server's CPU% in that second.

    Tells a steady tail from one stall, and a steady state from one that degrades.
    """
    seconds: dict[int, list[float]] = {}
    for message_id, returned in tally.returned.items():
        arrived = receiver.arrivals.get(message_id)
        if arrived is not None:
            seconds.setdefault(int(returned - tally.window_start), []).append(arrived - returned)
    cpu = tally.server_cpu
    return [
        {
            "second": s,
            "count": len(values),
            "p50_ms": _ms(sorted(values), 50),
            "max_ms": max(values) * 1000,
            "server_cpu_pct": 100 * (cpu[s + 1] - cpu[s]) if s + 1 < len(cpu) else None,
        }
        for s, values in sorted(seconds.items())
    ]


def _own_cpu() -> float:
    times = os.times()
    return times.user + times.system
