#!/usr/bin/env python3
"""End-to-end latency from an A2A ``SendMessage`` to the recipient's A2A server.

Starts ``atp serve`` on a fresh store, allowed to call 127.0.0.1; a recipient agent
whose endpoint is of kind ``a2a``, pointing at a bare HTTP server in this process that
notes when each call's last byte arrived and answers a completed task; and a caller
that sends JSON-RPC ``SendMessage`` (``returnImmediately``) to it, one at a time per
client. For each message: the send's answer time, and the time from the send's first
byte to the recipient server receiving the carrier's ``SendMessage`` (one clock,
``time.perf_counter``, on both sides). Prints p50/p90/p99 in milliseconds per client
count. See docs/performance.md for figures.

    .venv/bin/python ops/a2a_latency.py [--store sqlite|postgres] [--messages 400]
        [--clients 1,8]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import trio

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_lib.fixtures import Agent, open_accounts
from bench_lib.http import Connection, build_request, json_request
from bench_lib.servers import PG_URL, atp_server
from bench_lib.webhook_receiver import Receiver

# A completed task: the carrier records it as the ACK and asks nothing more.
ANSWER = json.dumps(
    {
        "jsonrpc": "2.0",
        "id": "1",
        "result": {
            "task": {"id": "t", "contextId": "c", "status": {"state": "TASK_STATE_COMPLETED"}}
        },
    }
).encode()


def percentiles(values: list[float]) -> str:
    ms = sorted(v * 1000 for v in values)
    if not ms:
        return "none"
    cuts = statistics.quantiles(ms, n=100, method="inclusive")
    return f"p50 {cuts[49]:.2f}  p90 {cuts[89]:.2f}  p99 {cuts[98]:.2f}  (n={len(ms)})"


async def set_a2a_endpoint(port: int, agent: Agent, url: str) -> None:
    async with Connection(port) as conn:
        data = json_request(
            "PUT",
            f"/api/agents/{agent.id}/webhook_endpoint",
            port,
            {"url": url, "kind": "a2a"},
            token=agent.token,
            idempotency_key=str(uuid.uuid4()),
        )
        status, body = await conn.request(data)
        if status != 200:
            raise SystemExit(f"setting the A2A endpoint failed: {status} {body[:200]!r}")


async def client(
    port: int,
    caller: Agent,
    tenant: Agent,
    count: int,
    sent: dict[str, float],
    answered: list[float],
) -> None:
    async with Connection(port) as conn:
        for _ in range(count):
            params = {
                "tenant": tenant.id,
                "configuration": {"returnImmediately": True},
                "message": {
                    "messageId": uuid.uuid4().hex,
                    "role": "ROLE_USER",
                    "parts": [{"text": "ping " * 40}],
                },
            }
            body = json.dumps(
                {"jsonrpc": "2.0", "id": 1, "method": "SendMessage", "params": params}
            )
            headers = {
                "Content-Type": "application/json",
                "Authorization": f"Bearer {caller.token}",
                "A2A-Version": "1.0",
            }
            data = build_request("POST", "/a2a", port, headers, body.encode())
            started = time.perf_counter()
            status, reply = await conn.request(data)
            answered.append(time.perf_counter() - started)
            if status != 200 or b'"result"' not in reply:
                raise SystemExit(f"SendMessage failed: {status} {reply[:200]!r}")
            sent[json.loads(reply)["result"]["task"]["id"]] = started


async def measure(
    port: int, receiver: Receiver, caller: Agent, tenant: Agent, count: int, each: int
) -> None:
    """``count`` clients sending ``each`` messages; print both latencies."""
    sent: dict[str, float] = {}
    answered: list[float] = []
    async with trio.open_nursery() as senders:
        for _ in range(count):
            senders.start_soon(client, port, caller, tenant, each, sent, answered)
    arrived_all = trio.Event()

    def check(_: str = "") -> None:
        if all(m in receiver.arrivals for m in sent):
            arrived_all.set()

    receiver.on_arrival = check
    check()
    with trio.move_on_after(30):
        await arrived_all.wait()
    reached = [receiver.arrivals[m] - t for m, t in sent.items() if m in receiver.arrivals]
    print(f"{count} client(s): SendMessage answered   {percentiles(answered)}")
    print(f"{count} client(s): recipient server got it {percentiles(reached)}")
    if len(reached) < len(sent):
        print(f"  {len(sent) - len(reached)} not received within 30 s")


async def run(port: int, messages: int, clients: list[int]) -> None:
    receiver = Receiver(ANSWER)
    [recipient_port] = await receiver.open(1)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(receiver.serve)
        [account] = await open_accounts(port, 1)
        caller, tenant = account.agents
        await set_a2a_endpoint(port, tenant, f"http://127.0.0.1:{recipient_port}/")
        for count in clients:
            await measure(port, receiver, caller, tenant, count, messages // count)
        print(f"recipient server: {receiver.requests} calls, {receiver.duplicates} repeated")
        nursery.cancel_scope.cancel()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--pg-url", default=PG_URL)
    parser.add_argument("--messages", type=int, default=400)
    parser.add_argument("--clients", default="1,8")
    args = parser.parse_args()
    clients = [int(c) for c in args.clients.split(",")]
    with tempfile.TemporaryDirectory() as work:
        env = {"ATP_WEBHOOK_ALLOW_PRIVATE": "1"}
        with atp_server(args.store, Path(work), args.pg_url, extra_env=env) as server:
            trio.run(run, server.port, args.messages, clients)


if __name__ == "__main__":
    main()
