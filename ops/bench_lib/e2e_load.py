"""ATP end to end: the load-generator process (``python -m bench_lib.e2e_load``) for the
``e2e``, ``e2e-batch``, ``send`` and ``send-batch`` scenarios of ``e2e_tally``.

Each pair is one producer and one consumer, each with its own keep-alive connection:
the producer is an agent that sends to the pair's recipient (the two share an account,
so the sender is trusted), the consumer is the recipient, claiming and ACKing. Single
calls are ``POST /api/messages``, ``POST /api/inbox/claims`` (long poll of 1 s) and
``POST /api/deliveries/<id>/acks``; batch calls ``POST /api/messages/batch``, claims
with ``max`` and ``POST /api/deliveries/acks``. A server without batch claims answers
one delivery a claim; the result notes it.

JSON spec on stdin (an ``E2eSpec`` whose ``target`` is ``{"port": P, "pairs":
[{"sender": token, "to": address, "recipient": token}, ...]}``), JSON result on stdout.
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import trio

from bench_lib.e2e_tally import GRACE, Cpu, E2eSpec, IdleWatch, Tally, payload
from bench_lib.http import Connection, ProtocolError
from bench_lib.load import post_bytes
from bench_lib.sse import events

__all__ = ["main", "run"]

_LEASE_SECONDS = 60
_WAIT_SECONDS = 1


class _Pair:
    """A pair's flow window: the producer takes a slot per message, the consumer gives
    it back when the message is done (or its send failed)."""

    def __init__(self, window: int) -> None:
        self.slots = trio.Semaphore(window)
        self.outstanding = 0

    async def take(self, count: int) -> None:
        for _ in range(count):
            await self.slots.acquire()
        self.outstanding += count

    def give(self, count: int) -> None:
        self.outstanding -= count
        for _ in range(count):
            self.slots.release()


async def _call(
    conn: Connection, tally: Tally, op: str, data: bytes, count: int = 1
) -> tuple[float, bytes | None]:
    """One request: when its answer was read, and its body if it was a 2xx.

    A connection that broke is tried once more on a new one: a producer that waited
    for room in its window may find that the server closed it as idle (after its
    keep-alive timeout), and every request carries an ``Idempotency-Key``, so the
    retry is answered as the first try would have been.
    """
    for attempt in (1, 2):
        try:
            status, body = await conn.request(data)
            break
        except (ProtocolError, OSError) as exc:
            if attempt == 2:
                tally.fail(f"{op} {type(exc).__name__}", str(exc), count)
                return time.perf_counter(), None
            tally.retried += 1
    now = time.perf_counter()
    if 200 <= status < 300:
        return now, body
    tally.fail(f"{op} {status}", body.decode("utf-8", "replace"), count)
    return now, None


async def _produce(spec: E2eSpec, tally: Tally, pair: _Pair, index: int) -> None:
    conf = spec.target["pairs"][index]
    port: int = spec.target["port"]
    token, to = conf["sender"], conf["to"].encode()
    batch = spec.batched
    async with Connection(port) as conn:
        seq = 0
        while tally.producing():
            # Consumers stop at the window's end: a producer waiting for room then stops.
            with trio.move_on_after(max(tally.end - time.perf_counter(), 0)) as waited:
                await pair.take(spec.size)
            if waited.cancelled_caught:
                return
            ids = [f"{spec.run_id}-{index}-{seq + i}" for i in range(spec.size)]
            seq += spec.size
            items = [b'{"to":"%s","payload":%s}' % (to, payload(mid)) for mid in ids]
            key = ids[0]
            tally.sending(ids, time.perf_counter())
            if batch:
                many = b'{"messages":[%s]}' % b",".join(items)
                data = post_bytes(port, "/api/messages/batch", token, key, many)
                now, body = await _call(conn, tally, "send-batch", data, len(ids))
                statuses = [r["status"] for r in json.loads(body)["results"]] if body else []
            else:
                data = post_bytes(port, "/api/messages", token, key, items[0])
                now, body = await _call(conn, tally, "send", data)
                statuses = [201] if body is not None else []
            done = [mid for mid, status in zip(ids, statuses, strict=False) if status == 201]
            failed = len(ids) - len(done)
            if body is not None and failed:
                tally.fail("send item not 201", body.decode()[:200], failed)
            for mid in set(ids).difference(done):
                tally.unsent(mid)
            if not spec.consume:
                tally.finished(done, now)
                pair.give(len(ids))
            elif failed:
                pair.give(failed)


def _claimed(reply: dict[str, Any], tally: Tally, batch: bool) -> list[dict[str, Any]]:
    """The deliveries of a claim's answer: a batch claim's list, or one claim's document
    (a server without batch claims), or none."""
    if "deliveries" in reply:
        deliveries: list[dict[str, Any]] = reply["deliveries"]
        return deliveries
    if reply.get("id"):
        if batch:
            tally.notes.add("a claim with max answered one delivery: no batch claims on the server")
        return [reply]
    return []


async def _consume(
    spec: E2eSpec, tally: Tally, pair: _Pair, index: int, draining: bool = False
) -> None:
    port: int = spec.target["port"]
    token: str = spec.target["pairs"][index]["recipient"]
    batch = spec.batched
    claim: dict[str, Any] = {"lease_seconds": _LEASE_SECONDS, "wait_seconds": _WAIT_SECONDS}
    if batch:
        claim["max"] = spec.size
    claim_body = json.dumps(claim).encode()
    async with Connection(port) as conn:
        seq = 0
        while tally.consuming(pair.outstanding, draining):
            seq += 1
            key = f"{spec.run_id}-c{index}{'d' if draining else ''}-{seq}"
            data = post_bytes(port, "/api/inbox/claims", token, key, claim_body)
            _, body = await _call(conn, tally, "claim", data)
            if body is None:
                continue
            deliveries = _claimed(json.loads(body), tally, batch)
            if not deliveries:
                continue
            ids = [d["message"]["payload"]["messageId"] for d in deliveries]
            if batch:
                await _ack_batch(spec, tally, conn, token, key + "a", deliveries)
                pair.give(len(ids))  # an ACK that failed will never be done: its room too
                continue
            path = f"/api/deliveries/{deliveries[0]['id']}/acks"
            data = post_bytes(port, path, token, key + "a", b'{"status":"completed"}')
            now, reply = await _call(conn, tally, "ack", data)
            tally.finished(ids if reply is not None else [], now)
            pair.give(len(ids))


async def _ack_batch(
    spec: E2eSpec,
    tally: Tally,
    conn: Connection,
    token: str,
    key: str,
    deliveries: list[dict[str, Any]],
) -> None:
    """ACK ``deliveries`` (claim documents) with one ``POST /api/deliveries/acks``."""
    ids = [d["message"]["payload"]["messageId"] for d in deliveries]
    acks = b",".join(
        b'{"delivery_id":"%s","status":"completed"}' % d["id"].encode() for d in deliveries
    )
    port: int = spec.target["port"]
    data = post_bytes(port, "/api/deliveries/acks", token, key, b'{"acks":[%s]}' % acks)
    now, reply = await _call(conn, tally, "ack-batch", data, len(ids))
    results = json.loads(reply)["results"] if reply else []
    done = [mid for mid, r in zip(ids, results, strict=False) if r["status"] == 201]
    if reply is not None and len(done) < len(ids):
        tally.fail("ack item not 201", reply.decode()[:200], len(ids) - len(done))
    tally.finished(done, now)


async def _stream(
    spec: E2eSpec, tally: Tally, pair: _Pair, index: int, draining: bool = False
) -> None:
    """``e2e-stream``'s consumer: ``GET /api/inbox/stream`` with a credit of a batch,
    its deliveries ACKed in groups (what has arrived, up to a batch) on a second
    connection, as RabbitMQ's consumer ACKs its prefetch. The drain claims instead: the
    stream's leases are released when it closes."""
    if draining:
        await _consume(spec, tally, pair, index, True)
        return
    token: str = spec.target["pairs"][index]["recipient"]
    path = f"/api/inbox/stream?credit={spec.size}&lease_seconds={_LEASE_SECONDS}"
    arrived_in, arrived = trio.open_memory_channel[dict[str, Any]](math.inf)

    async def read() -> None:
        try:
            async for data in events(spec.target["port"], path, token):
                arrived_in.send_nowait(json.loads(data))
        except (ProtocolError, OSError) as exc:
            tally.fail(f"stream {type(exc).__name__}", str(exc))

    async with trio.open_nursery() as nursery, Connection(spec.target["port"]) as conn:
        nursery.start_soon(read)
        seq = 0
        while tally.consuming(pair.outstanding, False):
            taken: list[dict[str, Any]] = []
            with trio.move_on_after(_WAIT_SECONDS):
                taken.append(await arrived.receive())
            if not taken:
                continue
            while len(taken) < spec.size:
                try:
                    taken.append(arrived.receive_nowait())
                except trio.WouldBlock:
                    break
            seq += 1
            await _ack_batch(spec, tally, conn, token, f"{spec.run_id}-s{index}-{seq}", taken)
            pair.give(len(taken))
        nursery.cancel_scope.cancel()


def _consumer(spec: E2eSpec) -> Callable[..., Awaitable[None]]:
    return _stream if spec.scenario == "e2e-stream" else _consume


async def _clock(spec: E2eSpec, tally: Tally) -> None:
    """Read the CPU clocks at the window's start and end (in ``stop_after`` mode, the
    end is read once everything is done)."""
    await trio.sleep(max(tally.start - time.perf_counter(), 0))
    tally.cpu.append(Cpu.read(spec.server_pid))
    if spec.stop_after is None:
        await trio.sleep(max(tally.end - time.perf_counter(), 0))
        tally.cpu.append(Cpu.read(spec.server_pid))


async def run(spec: E2eSpec) -> dict[str, Any]:
    """The window, the settling and the drain (see ``e2e_tally``); the result document."""
    start = time.perf_counter() + spec.warmup
    tally = Tally(start=start, end=start + spec.seconds, stop_after=spec.stop_after)
    pairs = [_Pair(spec.window) for _ in range(spec.pairs)]
    with trio.move_on_after(spec.warmup + spec.seconds + GRACE) as window:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_clock, spec, tally)
            for index, pair in enumerate(pairs):
                nursery.start_soon(_produce, spec, tally, pair, index)
                if spec.consume:
                    nursery.start_soon(_consumer(spec), spec, tally, pair, index)
    if window.cancelled_caught:
        tally.notes.add("cut off by the hard time cap")
    if spec.stop_after is not None:
        tally.cpu.append(Cpu.read(spec.server_pid))
    watch = IdleWatch(spec.server_pid)
    while True:  # the settling: until the server is idle
        await trio.sleep(IdleWatch.INTERVAL)
        if watch.idle():
            break
    tally.cpu.append(Cpu.read(spec.server_pid))
    tally.drain_until = time.perf_counter() + GRACE
    if spec.consume:
        with trio.move_on_after(2 * GRACE):
            async with trio.open_nursery() as nursery:
                for index, pair in enumerate(pairs):
                    nursery.start_soon(_consumer(spec), spec, tally, pair, index, True)
    return tally.result(spec, "atp")


def main() -> None:
    """Entry point: JSON spec on stdin, JSON result on stdout."""
    spec = E2eSpec.from_json(json.loads(sys.stdin.read()))
    json.dump(trio.run(run, spec), sys.stdout)


if __name__ == "__main__":
    main()
