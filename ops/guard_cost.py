#!/usr/bin/env python3
"""What ``atp.http.guard_exchanges`` costs per request, measured in process.

One exchange as Hypercorn and Quart-Trio run a small POST, reduced to their moves: the
request arrives through a memory channel (Hypercorn's app queue: two messages), the app
reads it in a receiver task while a handler task sends the answer (three messages), and
Hypercorn's last ``send`` puts ``http.disconnect`` on the queue and passes a checkpoint
before it returns, as its connection bookkeeping does. Run with and without the guard;
the difference per exchange is the guard's price, to set against a request's whole cost
(about 600 µs for the bare Quart-Trio ceiling in ops/bench, 1.5 ms for a durable send).
CPU time of this process, so other load on the machine does not count.

Two shapes: "straight" is the wrapper's own price (the same messages, no tasks);
"Quart-Trio-shaped" adds the interaction it changes, where unguarded the last ``send``
is cancelled (an exception through the stack) and guarded the receiver waits for it.

    .venv/bin/python ops/guard_cost.py [--exchanges 20000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import trio

from atp.http import guard_exchanges

SCOPE: dict[str, Any] = {
    "type": "http", "method": "POST", "path": "/api/messages",
    "headers": [(b"host", b"carrier"), (b"content-type", b"application/json"),
                (b"content-length", b"2"), (b"authorization", b"Bearer agk_x"),
                (b"idempotency-key", b"k")],
}  # fmt: skip
BODY = {"type": "http.request", "body": b"{}", "more_body": True}
END = {"type": "http.request", "body": b"", "more_body": False}
START = {"type": "http.response.start", "status": 201, "headers": [(b"content-length", b"2")]}
CHUNK = {"type": "http.response.body", "body": b"{}", "more_body": True}
LAST = {"type": "http.response.body", "body": b"", "more_body": False}
DISCONNECT = {"type": "http.disconnect"}


async def quart_trio_like(scope: Any, receive: Any, send: Any) -> None:
    """Quart-Trio's shape: a receiver and a handler; whichever ends first cancels both.
    The handler reads the body (as every POST route does) before it answers."""
    body = trio.Event()
    async with trio.open_nursery() as nursery:

        async def receiver() -> None:
            while (message := await receive())["type"] != "http.disconnect":
                if not message.get("more_body"):
                    body.set()
            nursery.cancel_scope.cancel()

        async def handler() -> None:
            await body.wait()
            await send(START)
            await send(CHUNK)
            await send(LAST)
            nursery.cancel_scope.cancel()

        nursery.start_soon(receiver)
        nursery.start_soon(handler)


async def straight(scope: Any, receive: Any, send: Any) -> None:
    """The same messages with no tasks and no disconnect: the wrapper's own price."""
    await receive()
    await receive()
    await send(START)
    await send(CHUNK)
    await send(LAST)


async def run(app: Any, exchanges: int) -> float:
    started = time.process_time()
    for _ in range(exchanges):
        queue_in, queue_out = trio.open_memory_channel[Any](10)
        queue_in.send_nowait(BODY)
        queue_in.send_nowait(END)

        async def send(message: Any, queue_in: Any = queue_in) -> None:
            if message is LAST:
                await queue_in.send(DISCONNECT)
                await trio.lowlevel.checkpoint()

        await app(SCOPE, queue_out.receive, send)
    return (time.process_time() - started) / exchanges


async def main(exchanges: int, rounds: int) -> None:
    for name, app in [("straight", straight), ("Quart-Trio-shaped", quart_trio_like)]:
        guarded = guard_exchanges(app, body_timeout=10)
        bare, wrapped = [], []
        for _ in range(rounds):  # interleaved, so drift hits both alike
            bare.append(await run(app, exchanges))
            wrapped.append(await run(guarded, exchanges))
        b, w = statistics.median(bare), statistics.median(wrapped)
        print(
            f"{name:>18} exchange: {b * 1e6:6.1f} µs CPU bare, {w * 1e6:6.1f} guarded:"
            f" {(w - b) * 1e6:+6.1f} µs (median of {rounds} x {exchanges})"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exchanges", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    trio.run(main, args.exchanges, args.rounds)
