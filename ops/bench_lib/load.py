"""The load generator: a separate process (``python -m bench_lib.load``) driving N clients.

It reads one JSON spec on stdin and writes one JSON result on stdout. Each client owns
one keep-alive connection and runs closed-loop (next request when the previous answer
is in). Latency is ``time.perf_counter`` around one request. Only requests that start
after the warm-up and finish inside the measurement window count toward throughput
and latency; every request (warm-up included) counts toward ``sent`` and ``failed``.

Every loop is bounded: by the window's end (``seconds``), or by ``requests`` per client
with ``max_seconds`` as a hard cap; in-flight requests get ``GRACE`` seconds more.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import trio

from bench_lib.http import HOST, Connection, ProtocolError

__all__ = ["GRACE", "MAX_SECONDS", "MESSAGE", "Spec", "main", "percentile", "post_bytes", "run"]

GRACE = 10.0  # seconds in-flight requests may take after the window
MAX_SECONDS = 300.0  # hard cap of a request-count run
MESSAGE = b'{"to":"%s","payload":{"messageId":"%s","role":"ROLE_USER","parts":[{"text":"%s"}]}}'
TURN = b'{"payload":{"messageId":"%s","role":"ROLE_USER","parts":[{"text":"%s"}]}}'
TEXT = b"benchmark message: the quick brown fox jumps over the lazy dog 0123456789"


@dataclass(frozen=True)
class Spec:
    """What to run. ``clients`` holds one entry per client (see ``_send``, ``_claim_ack``
    and ``_turn``)."""

    port: int
    scenario: str  # "send" | "claim-ack" | "turn"
    clients: list[dict[str, Any]]
    seconds: float = 10.0
    warmup: float = 1.0
    requests: int | None = None
    max_seconds: float = MAX_SECONDS
    run_id: str = "bench"

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Spec:
        return cls(**data)


@dataclass
class _Window:
    start: float  # perf_counter at the end of the warm-up
    end: float  # no new request after this (hard cap in request-count mode)
    per_client: int | None  # request-count mode


@dataclass
class _Client:
    """One client's tallies."""

    index: int
    window: _Window
    latencies: dict[str, list[float]] = field(default_factory=dict)
    ok: int = 0
    sent: int = 0
    failures: Counter[str] = field(default_factory=Counter)
    samples: list[str] = field(default_factory=list)
    empty_claims: int = 0
    drained: bool = False
    last_end: float = 0.0
    failed_in_window: int = 0
    turns: list[tuple[str, int, str]] = field(default_factory=list)  # (session, seq, message)

    def running(self) -> bool:
        window = self.window
        if self.drained or time.perf_counter() >= window.end:
            return False
        return window.per_client is None or self.ok + self.failed_in_window < window.per_client

    def record(self, op: str, started: float, ended: float, status: int, body: bytes) -> bool:
        """Tally one answer; True when it is a 2xx."""
        self.sent += 1
        counted = started >= self.window.start and (
            ended <= self.window.end or self.window.per_client is not None
        )
        if 200 <= status < 300:
            if counted:
                self.ok += 1
                self.latencies.setdefault(op, []).append(ended - started)
                self.last_end = max(self.last_end, ended)
            return True
        self._fail(f"{op} {status}", body.decode("utf-8", "replace")[:200], counted)
        return False

    def error(self, op: str, exc: Exception, started: float) -> None:
        self.sent += 1
        self._fail(f"{op} {type(exc).__name__}", str(exc)[:200], started >= self.window.start)

    def _fail(self, kind: str, detail: str, counted: bool) -> None:
        self.failures[kind] += 1
        self.failed_in_window += counted
        if len(self.samples) < 3:
            self.samples.append(f"{kind}: {detail}")


def post_bytes(port: int, path: str, token: str, key: str, body: bytes) -> bytes:
    """A JSON POST with a bearer token and an ``Idempotency-Key``, built by hand: cheap
    enough to build one per request without the builder showing in the latency."""
    return (
        b"POST %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/json\r\n"
        b"Authorization: Bearer %s\r\nIdempotency-Key: %s\r\nContent-Length: %d\r\n\r\n%s"
        % (path.encode(), HOST.encode(), port, token.encode(), key.encode(), len(body), body)
    )


async def _request(conn: Connection, client: _Client, op: str, data: bytes) -> bytes | None:
    """One request, timed and tallied as ``op``: the body of a 2xx answer, else None."""
    started = time.perf_counter()
    try:
        status, body = await conn.request(data)
    except (ProtocolError, OSError) as exc:
        client.error(op, exc, started)
        return None
    return body if client.record(op, started, time.perf_counter(), status, body) else None


async def _send(spec: Spec, client: _Client, conf: dict[str, Any]) -> None:
    """``conf = {"routes": [[sender_token, recipient_address], ...]}``: round-robin over them."""
    routes: list[list[str]] = conf["routes"]
    async with Connection(spec.port) as conn:
        seq = client.index  # spread clients over the routes from the start
        while client.running():
            token, to = routes[seq % len(routes)]
            key = f"{spec.run_id}-{client.index}-{seq}"
            seq += 1
            body = MESSAGE % (to.encode(), key.encode(), TEXT)
            data = post_bytes(spec.port, "/api/messages", token, key, body)
            await _request(conn, client, "send", data)


async def _send_batch(spec: Spec, client: _Client, conf: dict[str, Any]) -> None:
    """``conf = {"routes": [...], "batch": N}``: N sends to one route's recipient per
    ``POST /api/messages/batch``, round-robin over the routes (a request's 2xx counts one;
    the messages are the requests times N)."""
    routes: list[list[str]] = conf["routes"]
    size: int = conf["batch"]
    async with Connection(spec.port) as conn:
        seq = client.index
        while client.running():
            token, to = routes[seq % len(routes)]
            key = f"{spec.run_id}-{client.index}-{seq}"
            seq += 1
            items = b",".join(
                MESSAGE % (to.encode(), f"{key}-{i}".encode(), TEXT) for i in range(size)
            )
            body = b'{"messages":[%s]}' % items
            data = post_bytes(spec.port, "/api/messages/batch", token, key, body)
            await _request(conn, client, "send-batch", data)


A2A_SEND = (
    b'{"jsonrpc":"2.0","id":1,"method":"SendMessage","params":{"tenant":"%s",'
    b'"configuration":{"returnImmediately":true},'
    b'"message":{"messageId":"%s","role":"ROLE_USER","parts":[{"text":"%s"}]}}}'
)


async def _a2a_send(spec: Spec, client: _Client, conf: dict[str, Any]) -> None:
    """As ``_send``, through the A2A front door: JSON-RPC ``SendMessage`` that answers at
    once (``returnImmediately``), the recipient as tenant."""
    routes: list[list[str]] = conf["routes"]
    async with Connection(spec.port) as conn:
        seq = client.index
        while client.running():
            token, to = routes[seq % len(routes)]
            key = f"{spec.run_id}-{client.index}-{seq}"
            seq += 1
            tenant = to.removeprefix("atp://agent/")
            body = A2A_SEND % (tenant.encode(), key.encode(), TEXT)
            data = (
                b"POST /a2a HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/json\r\n"
                b"Authorization: Bearer %s\r\nA2A-Version: 1.0\r\nContent-Length: %d\r\n\r\n%s"
                % (HOST.encode(), spec.port, token.encode(), len(body), body)
            )
            answer = await _request(conn, client, "a2a-send", data)
            if answer is not None and b'"result"' not in answer:  # an A2A error, on a 200
                client.ok -= 1
                client._fail("a2a-send error", answer.decode("utf-8", "replace")[:200], True)


async def _claim_ack(spec: Spec, client: _Client, conf: dict[str, Any]) -> None:
    """``conf = {"token": recipient_token}``: claim, then ACK what was claimed."""
    token: str = conf["token"]
    claim_body = b'{"lease_seconds":60}'
    ack_body = b'{"status":"completed"}'
    async with Connection(spec.port) as conn:
        seq = 0
        while client.running():
            seq += 1
            key = f"{spec.run_id}-{client.index}-{seq}"
            data = post_bytes(spec.port, "/api/inbox/claims", token, key + "c", claim_body)
            body = await _request(conn, client, "claim", data)
            if body is None:
                continue
            delivery_id = json.loads(body).get("id")
            if not delivery_id:
                client.empty_claims += 1
                client.drained = True  # the inbox is empty: this client is done
                return
            data = post_bytes(
                spec.port, f"/api/deliveries/{delivery_id}/acks", token, key + "a", ack_body
            )
            await _request(conn, client, "ack", data)


async def _turn(spec: Spec, client: _Client, conf: dict[str, Any]) -> None:
    """``conf = {"session": id, "tokens": [initiator_token, recipient_token]}``: turns in
    one open session, the sender side alternating. Every 2xx's sequence is kept, warm-up
    and grace included, so that the bench can check them against the transcript."""
    session: str = conf["session"]
    tokens: list[str] = conf["tokens"]
    path = f"/api/sessions/{session}/messages"
    async with Connection(spec.port) as conn:
        seq = client.index  # clients on one session start on alternate sides
        while client.running():
            key = f"{spec.run_id}-{client.index}-{seq}"
            body = TURN % (key.encode(), TEXT)
            data = post_bytes(spec.port, path, tokens[seq % 2], key, body)
            seq += 1
            reply = await _request(conn, client, "turn", data)
            if reply is not None:
                message = json.loads(reply)["message_status"]["message"]
                client.turns.append((session, message["session_sequence"], message["id"]))


_SCENARIOS = {
    "send": _send,
    "send-batch": _send_batch,
    "a2a-send": _a2a_send,
    "claim-ack": _claim_ack,
    "turn": _turn,
}


def percentile(sorted_values: list[float], pct: float) -> float:
    """Nearest-rank percentile of an ascending list (0.0 when empty)."""
    if not sorted_values:
        return 0.0
    rank = max(1, math.ceil(pct / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def _summary(values: list[float]) -> dict[str, float | int]:
    values = sorted(values)
    return {
        "count": len(values),
        "p50_ms": percentile(values, 50) * 1000,
        "p99_ms": percentile(values, 99) * 1000,
        "mean_ms": (sum(values) / len(values) * 1000) if values else 0.0,
        "max_ms": (values[-1] * 1000) if values else 0.0,
    }


async def run(spec: Spec) -> dict[str, Any]:
    """Run the spec's clients and return the result document."""
    body = _SCENARIOS.get(spec.scenario)
    if body is None:
        raise ValueError(f"unknown scenario {spec.scenario!r}")
    now = time.perf_counter()
    start = now + spec.warmup
    cap = spec.max_seconds if spec.requests is not None else spec.seconds
    window = _Window(start=start, end=start + cap, per_client=spec.requests)
    clients = [_Client(index=i, window=window) for i in range(len(spec.clients))]
    cpu_before = os.times()
    with trio.move_on_after(spec.warmup + cap + GRACE) as scope:
        async with trio.open_nursery() as nursery:
            for client, conf in zip(clients, spec.clients, strict=True):
                nursery.start_soon(body, spec, client, conf)
    cpu_after = os.times()
    finished = time.perf_counter()
    if spec.requests is None:
        elapsed = spec.seconds
    else:
        elapsed = max([c.last_end for c in clients] + [start]) - start
    latencies: dict[str, list[float]] = {}
    for client in clients:
        for op, values in client.latencies.items():
            latencies.setdefault(op, []).extend(values)
    failures: Counter[str] = Counter()
    for client in clients:
        failures.update(client.failures)
    ok = sum(c.ok for c in clients)
    cpu = (cpu_after.user + cpu_after.system) - (cpu_before.user + cpu_before.system)
    return {
        "scenario": spec.scenario,
        "clients": len(clients),
        "seconds": elapsed,
        "ok": ok,
        "rps": ok / elapsed if elapsed > 0 else 0.0,
        **_summary([v for values in latencies.values() for v in values]),
        "per_op": {op: _summary(values) for op, values in sorted(latencies.items())},
        "sent": sum(c.sent for c in clients),
        "failed": sum(failures.values()),
        "failures": dict(failures),
        "failure_samples": [s for c in clients for s in c.samples][:5],
        "empty_claims": sum(c.empty_claims for c in clients),
        "drained_clients": sum(c.drained for c in clients),
        "cut_off": scope.cancelled_caught,
        "loadgen_cpu_pct": 100 * cpu / max(finished - now, 1e-9),
        **({"turns": [t for c in clients for t in c.turns]} if spec.scenario == "turn" else {}),
    }


def main() -> None:
    """Entry point of the load-generator process: JSON spec on stdin, JSON result on stdout."""
    spec = Spec.from_json(json.loads(sys.stdin.read()))
    result = trio.run(run, spec)
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
