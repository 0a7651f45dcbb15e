"""NATS JetStream end to end: the load-generator process (``python -m bench_lib.nats_load``),
the workload of ``e2e_load`` on a stream per pair (nats-py, asyncio).

Durability as ATP's: each pair's stream is a file-stored work queue (a message leaves it
when ACKed) on a server that syncs every write (``sync_interval: always``, see
``brokers.nats_server``), and a send is done when the server's publish ACK arrives. A
batch publishes its messages asynchronously and then waits for all their ACKs. A
consumer is a durable pull consumer with explicit ACKs: it fetches up to a batch (a
long poll of 1 s) and ACKs each message. (A work-queue stream takes only explicit ACKs,
so one ACK for a batch, as RabbitMQ's ``multiple``, is not open to it.) The ACKs are
not answered (no double ACK): a message is done when its ACK is written.

JSON spec on stdin (an ``E2eSpec``; ``target`` is ``{"url": nats URL}``), JSON result
on stdout. The streams are deleted at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import nats
from nats.js.api import AckPolicy, ConsumerConfig, RetentionPolicy, StorageType

from bench_lib.aio_pairs import Pair, published, run_pairs, serve_spec
from bench_lib.e2e_tally import E2eSpec, Tally, message_id, payload

__all__ = ["main", "run"]

_DURABLE = "bench"


def _subject(spec: E2eSpec, index: int) -> str:
    return f"atpbench.{spec.run_id}.{index}"


async def _produce(spec: E2eSpec, tally: Tally, pair: Pair, index: int, _: bool) -> None:
    subject = _subject(spec, index)
    conn = await nats.connect(spec.target["url"])
    try:
        js = conn.jetstream()
        seq = 0
        while tally.producing():
            if not await pair.take(spec.size, tally.end):
                return
            ids = [f"{spec.run_id}-{index}-{seq + i}" for i in range(spec.size)]
            seq += spec.size
            tally.sending(ids, time.perf_counter())
            acks: list[Any]
            if spec.size == 1:
                acks = await asyncio.gather(
                    js.publish(subject, payload(ids[0])), return_exceptions=True
                )
            else:
                futures = [await js.publish_async(subject, payload(mid)) for mid in ids]
                acks = await asyncio.gather(*futures, return_exceptions=True)
            published(spec, tally, pair, ids, list(acks))
    finally:
        await conn.close()


async def _consume(spec: E2eSpec, tally: Tally, pair: Pair, index: int, draining: bool) -> None:
    conn = await nats.connect(spec.target["url"])
    try:
        js = conn.jetstream()
        sub = await js.pull_subscribe_bind(durable=_DURABLE, stream=spec.queue_name(index))
        while tally.consuming(pair.outstanding, draining):
            try:
                messages = await sub.fetch(spec.size, timeout=1.0)
            except nats.errors.TimeoutError:
                continue
            for message in messages:
                await message.ack()
            now = time.perf_counter()
            tally.finished([message_id(m.data) for m in messages], now)
            pair.give(len(messages))
    finally:
        await conn.close()


async def run(spec: E2eSpec) -> dict[str, Any]:
    """Add the pairs' streams and consumers, run the pairs, delete the streams."""
    admin = await nats.connect(spec.target["url"])
    js = admin.jetstream()
    names = [spec.queue_name(i) for i in range(spec.pairs)]
    try:
        for index, name in enumerate(names):
            await js.add_stream(
                name=name,
                subjects=[_subject(spec, index)],
                storage=StorageType.FILE,
                retention=RetentionPolicy.WORK_QUEUE,
            )
            config = ConsumerConfig(durable_name=_DURABLE, ack_policy=AckPolicy.EXPLICIT)
            await js.add_consumer(name, config)
        tally = await run_pairs(spec, _produce, _consume)
    finally:
        for name in names:
            with contextlib.suppress(nats.js.errors.NotFoundError):
                await js.delete_stream(name)
        await admin.close()
    return tally.result(spec, "nats")


def main() -> None:
    """Entry point: JSON spec on stdin, JSON result on stdout."""
    serve_spec(run)


if __name__ == "__main__":
    main()
