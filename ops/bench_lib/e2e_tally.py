"""What the end-to-end load generators share: the spec, the payload, the flow window and
the tally of one run, and the CPU clocks.

Three generators run the same workload (``e2e_load`` against ATP on Trio,
``rabbit_load`` and ``nats_load`` against the brokers on asyncio), each in its own
process. This module uses neither event loop, so that the three count, time and report
alike: a message is done when its ACK is answered (for the brokers, whose ACKs are not
answered, when the ACK is written), its latency runs from the start of its send to
then, and it counts toward the rate when that moment falls inside the window.

A run has three phases. The window: producers and consumers run until its end (after
a warm-up), and the server's CPU is read at its start and end. The settling: nothing
runs until the server is idle, and its CPU is read again; the work a server puts off
(ATP's audit follower catching up, a broker's log compaction) is in this reading and
not in the window's. The drain: the consumers take what is left (``GRACE`` at most),
so that the queues are empty when they are deleted. A ``stop_after`` run (the history
prefill) has no warm-up and its window ends when every message sent is done.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench_lib.load import percentile

__all__ = [
    "GRACE",
    "IDLE_LIMIT",
    "SCENARIOS",
    "Cpu",
    "E2eSpec",
    "IdleWatch",
    "Tally",
    "message_id",
    "payload",
    "proc_cpu_seconds",
    "tree_cpu_seconds",
]

# The scenarios every generator runs. ``e2e-stream`` is ATP's streaming consumer
# (GET /api/inbox/stream) with batch sends and ACKs; for the brokers, whose consumers
# take a prefetch (RabbitMQ: pushed; NATS: fetched), it is ``e2e-batch``.
SCENARIOS = ("e2e", "e2e-batch", "e2e-stream", "send", "send-batch")
GRACE = 10.0  # seconds for the requests in flight at the window's end, and for the drain
IDLE_LIMIT = 60.0  # seconds the settling waits for an idle server at most
PAYLOAD_BYTES = 250  # the A2A payload: ATP's ``payload``, the brokers' message body
_HEAD = b'{"messageId":"'
_TEMPLATE = _HEAD + b'%s","role":"ROLE_USER","parts":[{"text":"%s"}]}'
_TEXT = b"benchmark message: the quick brown fox jumps over the lazy dog 0123456789 " * 4


def payload(mid: str) -> bytes:
    """A minimal A2A message of ``PAYLOAD_BYTES`` (its text padded to fit) whose
    ``messageId`` is ``mid``: the same bytes for ATP and the brokers."""
    room = PAYLOAD_BYTES - len(_TEMPLATE) + 4 - len(mid)
    return _TEMPLATE % (mid.encode(), _TEXT[: max(room, 1)])


def message_id(body: bytes) -> str:
    """The ``messageId`` of a :func:`payload`, cut out without a JSON parse: the broker
    consumers read it from every message, and their CPU shares the machine."""
    end = body.index(b'"', len(_HEAD))
    return body[len(_HEAD) : end].decode()


@dataclass(frozen=True)
class E2eSpec:
    """One run of one generator.

    ``target`` is the system's own: ATP's port and each pair's tokens, a broker's URL.
    ``stop_after``: stop sending after that many messages (the history prefill), with
    ``seconds`` as a cap; the window then ends with the last message done.
    """

    scenario: str
    pairs: int
    batch: int
    target: dict[str, Any]
    server_pid: int
    seconds: float = 10.0
    warmup: float = 1.0
    run_id: str = "bench"
    stop_after: int | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> E2eSpec:
        spec = cls(**data)
        if spec.scenario not in SCENARIOS:
            raise ValueError(f"unknown scenario {spec.scenario!r}")
        return spec

    @property
    def batched(self) -> bool:
        """Batch calls (``*-batch``, ``e2e-stream``), or one message a call."""
        return self.scenario not in ("e2e", "send")

    @property
    def size(self) -> int:
        """Messages per send call (and per claim, fetch or prefetch)."""
        return self.batch if self.batched else 1

    @property
    def consume(self) -> bool:
        """Consumers run (``e2e*``), or only producers (``send*``)."""
        return self.scenario.startswith("e2e")

    @property
    def window(self) -> int:
        """Messages a pair may have sent and not yet ACKed. Four calls' worth keeps a
        consumer busy while its producer waits for answers; the bound keeps the queue,
        and so the latency, from growing for as long as the run lasts. Send-only runs
        have no consumers, and no bound."""
        return max(4 * self.size, 8) if self.consume else 1 << 30

    def queue_name(self, pair: int) -> str:
        """The broker queue (RabbitMQ) or stream (NATS) of one pair."""
        return f"atpbench_{self.run_id}_{pair}"


def proc_cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process (all threads), from ``/proc/<pid>/stat``."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(pid: int) -> float:
    """CPU time of a process and its live descendants: ATP's server runs its audit
    follower as a child process, and that work is the server's too. (One pass over
    ``/proc``: this kernel has no ``/proc/<pid>/task/<tid>/children``.)"""
    parents: dict[int, int] = {}
    ticks: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # it ended while we looked
        parents[int(entry.name)] = int(fields[1])
        ticks[int(entry.name)] = int(fields[11]) + int(fields[12])
    tree = {pid}
    grown = True
    while grown:
        children = {child for child, parent in parents.items() if parent in tree}
        grown = not children <= tree
        tree |= children
    return sum(ticks.get(p, 0) for p in tree) / os.sysconf("SC_CLK_TCK")


def _machine_cpu_seconds() -> float:
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


class IdleWatch:
    """Tells when a server (with its children) is idle: under 5% of a core over one
    ``INTERVAL``, or ``IDLE_LIMIT`` seconds on. The generators poll it with their own
    loop's sleep."""

    INTERVAL = 0.5

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.before = tree_cpu_seconds(pid)
        self.deadline = time.perf_counter() + IDLE_LIMIT

    def idle(self) -> bool:
        """Whether the server was idle since the last call (or since it was made)."""
        after = tree_cpu_seconds(self.pid)
        busy, self.before = after - self.before, after
        return busy < 0.05 * self.INTERVAL or time.perf_counter() >= self.deadline


@dataclass(frozen=True)
class Cpu:
    """CPU seconds at one moment: the server's (with its child processes), this
    generator's, the whole machine's."""

    server: float
    loadgen: float
    machine: float
    at: float

    @classmethod
    def read(cls, server_pid: int) -> Cpu:
        own = os.times()
        return cls(
            tree_cpu_seconds(server_pid),
            own.user + own.system,
            _machine_cpu_seconds(),
            time.perf_counter(),
        )


@dataclass
class Tally:
    """One run's counts, shared by its producers and consumers (one event loop, no locks)."""

    start: float  # perf_counter at the end of the warm-up
    end: float  # producers send nothing new after this
    stop_after: int | None = None
    sent_at: dict[str, float] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    counted: int = 0  # messages done inside the window
    sent: int = 0
    done: int = 0
    last_done: float = 0.0
    retried: int = 0  # requests tried again on a new connection
    failures: Counter[str] = field(default_factory=Counter)
    samples: list[str] = field(default_factory=list)
    notes: set[str] = field(default_factory=set)
    cpu: list[Cpu] = field(default_factory=list)  # window start, window end, settled
    drain_until: float = 0.0

    def consuming(self, outstanding: int, draining: bool) -> bool:
        """Whether a consumer whose pair has ``outstanding`` messages goes on."""
        now = time.perf_counter()
        if draining:
            return outstanding > 0 and now < self.drain_until
        if self.stop_after is not None:
            return (outstanding > 0 or self.producing()) and now < self.end + GRACE
        return now < self.end

    def producing(self) -> bool:
        """Whether producers go on: inside the window, and short of ``stop_after``."""
        if self.stop_after is not None and self.sent >= self.stop_after:
            return False
        return time.perf_counter() < self.end

    def sending(self, ids: list[str], started: float) -> None:
        """Note the send's start before the request goes out: a consumer may see the
        message before its producer reads the answer."""
        for mid in ids:
            self.sent_at[mid] = started
        self.sent += len(ids)

    def unsent(self, mid: str) -> None:
        """A send that failed: the message will never be done."""
        self.sent_at.pop(mid, None)

    def finished(self, ids: list[str], now: float) -> None:
        """Messages done at ``now``: ACKed, or, in a send-only run, sent."""
        self.done += len(ids)
        self.last_done = max(self.last_done, now)
        inside = self.start <= now and (now <= self.end or self.stop_after is not None)
        for mid in ids:
            started = self.sent_at.pop(mid, None)
            if inside:
                self.counted += 1
                if started is not None:
                    self.latencies.append(now - started)

    def fail(self, kind: str, detail: str, count: int = 1) -> None:
        self.failures[kind] += count
        if len(self.samples) < 5:
            self.samples.append(f"{kind}: {detail[:200]}")

    def result(self, spec: E2eSpec, system: str) -> dict[str, Any]:
        """The result document."""
        seconds = spec.seconds
        if spec.stop_after is not None:
            seconds = max(self.last_done - self.start, 1e-9)
        values = sorted(self.latencies)
        doc: dict[str, Any] = {
            "system": system,
            "scenario": spec.scenario,
            "clients": spec.pairs,
            "batch": spec.size,
            "seconds": seconds,
            "messages": self.counted,
            "msg_per_s": self.counted / seconds,
            "p50_ms": percentile(values, 50) * 1000,
            "p99_ms": percentile(values, 99) * 1000,
            "sent": self.sent,
            "done": self.done,
            "undone": len(self.sent_at),
            "failed": sum(self.failures.values()),
            "failures": dict(self.failures),
            "failure_samples": self.samples,
            "notes": sorted(self.notes)
            + ([f"{self.retried} request(s) retried on a new connection"] if self.retried else []),
        }
        if len(self.cpu) == 3:
            before, after, settled = self.cpu
            wall = max(after.at - before.at, 1e-9)
            server = after.server - before.server
            doc |= {
                "server_cpu_s": server,
                "server_cpu_us_per_msg": 1e6 * server / max(self.counted, 1),
                "settle_s": settled.at - after.at,
                "settled_cpu_s": settled.server - before.server,
                "settled_cpu_us_per_msg": 1e6
                * (settled.server - before.server)
                / max(self.counted, 1),
                "server_cpu_pct": 100 * server / wall,
                "loadgen_cpu_pct": 100 * (after.loadgen - before.loadgen) / wall,
                "machine_cpu_pct": 100 * (after.machine - before.machine) / wall,
            }
        return doc
