"""RabbitMQ end to end: the load-generator process (``python -m bench_lib.rabbit_load``),
the workload of ``e2e_load`` on a quorum queue per pair (aio-pika, asyncio).

Durability as ATP's: each pair's queue is a durable quorum queue, every message is
persistent, and a send is done when the broker confirms it (publisher confirms). A
batch publishes its messages and then waits for all their confirms. A consumer has a
prefetch of the batch size, takes what has arrived (up to a batch) and ACKs it with one
``basic.ack`` (``multiple`` for a batch). AMQP does not answer an ACK, so a message is
done when its ACK is written: that favours the broker a little.

JSON spec on stdin (an ``E2eSpec``; ``target`` is ``{"url": amqp URL}``), JSON result
on stdout. The queues are deleted at the end.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aio_pika
from aio_pika.abc import AbstractIncomingMessage

from bench_lib.aio_pairs import Pair, published, run_pairs, serve_spec
from bench_lib.e2e_tally import E2eSpec, Tally, message_id, payload

__all__ = ["main", "run"]

_QUORUM = {"x-queue-type": "quorum"}


async def _produce(spec: E2eSpec, tally: Tally, pair: Pair, index: int, _: bool) -> None:
    queue = spec.queue_name(index)
    async with await aio_pika.connect(spec.target["url"]) as conn:
        channel = await conn.channel(publisher_confirms=True)
        exchange = channel.default_exchange
        seq = 0
        while tally.producing():
            if not await pair.take(spec.size, tally.end):
                return
            ids = [f"{spec.run_id}-{index}-{seq + i}" for i in range(spec.size)]
            seq += spec.size
            messages = [
                aio_pika.Message(payload(mid), delivery_mode=aio_pika.DeliveryMode.PERSISTENT)
                for mid in ids
            ]
            tally.sending(ids, time.perf_counter())
            confirms = await asyncio.gather(
                *(exchange.publish(m, routing_key=queue) for m in messages),
                return_exceptions=True,
            )
            published(spec, tally, pair, ids, list(confirms))


async def _consume(spec: E2eSpec, tally: Tally, pair: Pair, index: int, draining: bool) -> None:
    arrived: asyncio.Queue[AbstractIncomingMessage] = asyncio.Queue()
    async with await aio_pika.connect(spec.target["url"]) as conn:
        channel = await conn.channel()
        await channel.set_qos(prefetch_count=spec.size)
        queue = await channel.get_queue(spec.queue_name(index), ensure=False)
        await queue.consume(arrived.put, no_ack=False)
        while tally.consuming(pair.outstanding, draining):
            try:
                first = await asyncio.wait_for(arrived.get(), 1.0)
            except TimeoutError:
                continue
            taken = [first]
            while len(taken) < spec.size and not arrived.empty():
                taken.append(arrived.get_nowait())
            await taken[-1].ack(multiple=len(taken) > 1)
            now = time.perf_counter()
            tally.finished([message_id(m.body) for m in taken], now)
            pair.give(len(taken))


async def run(spec: E2eSpec) -> dict[str, Any]:
    """Declare the pairs' queues, run the pairs, delete the queues; the result document."""
    async with await aio_pika.connect(spec.target["url"]) as admin:
        channel = await admin.channel()
        names = [spec.queue_name(i) for i in range(spec.pairs)]
        try:
            for name in names:
                await channel.declare_queue(name, durable=True, arguments=_QUORUM)
            tally = await run_pairs(spec, _produce, _consume)
        finally:
            for name in names:
                await channel.queue_delete(name)
    return tally.result(spec, "rabbitmq")


def main() -> None:
    """Entry point: JSON spec on stdin, JSON result on stdout."""
    serve_spec(run)


if __name__ == "__main__":
    main()
