#!/usr/bin/env python3
"""Cross-carrier AMTP delivery: throughput and latency between two carriers, and the cost
of the gateways' signatures.

Starts two ``atp serve`` processes on loopback (domains ``one.bench`` and ``two.bench``,
each on a fresh store) and a DNS server in this process (dnslib's) that publishes their
``_amtp`` records. Senders at carrier one send AMTP messages (``POST /v1/messages``,
~250-byte payloads) to one agent at carrier two, ``--clients`` at a time for
``--seconds``; a consumer at carrier two claims them in batches (long poll) and ACKs
them. For each message: the time from the send's first byte at carrier one to its claim
at carrier two (one clock, ``time.perf_counter``). Prints messages/s end to end and
p50/p90/p99 latency; then the signing and verification cost per request, in process.
See docs/performance.md for figures.

    .venv/bin/python ops/amtp_bench.py [--store sqlite|postgres] [--clients 8]
        [--seconds 10]
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import tempfile
import time
import timeit
from pathlib import Path
from typing import Any

import httpx
import trio
from dnslib import QTYPE, RR, TXT
from dnslib.server import BaseResolver, DNSLogger, DNSServer

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_lib.servers import atp_server, free_port

from atp.federation import GatewayKey, verify_request

PAYLOAD = {"text": "x" * 200, "n": 0}


class Records(BaseResolver):  # type: ignore[misc]
    """TXT answers from a dict, 'no such name' otherwise."""

    def __init__(self) -> None:
        self.txt: dict[str, str] = {}

    def resolve(self, request: Any, handler: Any) -> Any:
        reply = request.reply()
        name = str(request.q.qname).rstrip(".").lower()
        if name in self.txt and request.q.qtype == QTYPE.TXT:
            reply.add_answer(RR(name, QTYPE.TXT, rdata=TXT(self.txt[name]), ttl=300))
        else:
            reply.header.rcode = 3
        return reply


def percentiles(values: list[float]) -> str:
    ms = sorted(v * 1000 for v in values)
    if len(ms) < 2:
        return f"n={len(ms)}"
    cuts = statistics.quantiles(ms, n=100, method="inclusive")
    return f"p50 {cuts[49]:.1f} ms  p90 {cuts[89]:.1f} ms  p99 {cuts[98]:.1f} ms  (n={len(ms)})"


async def register(url: str, domain: str, name: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        account = (await http.post("/api/accounts", json={"name": domain})).json()
        admin = account["account_api_key"]["token"]
        r = await http.post("/v1/admin/agents", json={"address": name},
                            headers={"X-Admin-Key": admin})  # fmt: skip
        r.raise_for_status()
        caps = (await http.get(f"/v1/capabilities/{domain}")).json()
        agent: dict[str, Any] = {**r.json()["agent"], "txt": caps["txt_record"]}
        return agent


async def run(store: str, clients: int, seconds: float, work: Path) -> None:
    records = Records()
    dns_port = free_port()
    quiet = DNSLogger(log="-request,-reply,-truncated,-error,-recv,-send,-data")
    dns = DNSServer(records, port=dns_port, address="127.0.0.1", logger=quiet)
    dns.start_thread()
    env = {
        "ATP_AMTP_RESOLVERS": f"127.0.0.1:{dns_port}",
        "ATP_WEBHOOK_ALLOW_PRIVATE": "1",  # the other gateway is on loopback
        "ATP_UNKNOWN_SENDER_LIMIT": "100000000",
        "ATP_LOG_LEVEL": "warning",
    }
    for name in ("one", "two"):
        (work / name).mkdir()
    with contextlib.ExitStack() as stack:
        one = stack.enter_context(
            atp_server(store, work / "one", extra_env={**env, "ATP_DOMAIN": "one.bench"})
        )
        two = stack.enter_context(
            atp_server(store, work / "two", extra_env={**env, "ATP_DOMAIN": "two.bench"})
        )
        one_url, two_url = f"http://127.0.0.1:{one.port}", f"http://127.0.0.1:{two.port}"
        sender = await register(one_url, "one.bench", "sender")
        recipient = await register(two_url, "two.bench", "recipient")
        for agent in (sender, recipient):
            name, value = agent["txt"].split(" IN TXT ")
            records.txt[name.split(" ")[0].rstrip(".")] = value.strip('"')
        sent: dict[int, float] = {}
        received: dict[int, float] = {}
        stop_at = time.perf_counter() + seconds

        async def send_loop(client: int) -> None:
            n = client
            headers = {"Authorization": f"Bearer {sender['api_key']}"}
            async with httpx.AsyncClient(base_url=one_url, timeout=30) as http:
                while time.perf_counter() < stop_at:
                    body = {"sender": sender["address"], "recipients": [recipient["address"]],
                            "payload": {**PAYLOAD, "n": n}}  # fmt: skip
                    sent[n] = time.perf_counter()
                    r = await http.post("/v1/messages", json=body, headers=headers)
                    r.raise_for_status()
                    n += clients

        async def consume(cancel: trio.CancelScope) -> None:
            headers = {"Authorization": f"Bearer {recipient['api_key']}"}
            claim = {"max": 100, "wait_seconds": 2}
            async with httpx.AsyncClient(base_url=two_url, timeout=30) as http:
                while True:
                    keyed = {**headers, "Idempotency-Key": str(time.time_ns())}
                    r = await http.post("/api/inbox/claims", json=claim, headers=keyed)
                    deliveries = r.json().get("deliveries") or []
                    now = time.perf_counter()
                    acks = []
                    for delivery in deliveries:
                        n = delivery["message"]["payload"]["parts"][0]["data"]["n"]
                        received.setdefault(n, now)
                        acks.append({"delivery_id": delivery["id"], "status": "completed"})
                    if acks:
                        keyed = {**headers, "Idempotency-Key": str(time.time_ns())}
                        await http.post("/api/deliveries/acks", json={"acks": acks}, headers=keyed)
                    if time.perf_counter() > stop_at and len(received) >= len(sent):
                        cancel.cancel()
                        return

        started = time.perf_counter()
        with trio.move_on_after(seconds + 60) as scope:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(consume, scope)
                for client in range(clients):
                    nursery.start_soon(send_loop, client)
        elapsed = max(received.values(), default=started) - started
        latencies = [received[n] - sent[n] for n in received if n in sent]
        rate = len(received) / elapsed
        print(f"store {store}, {clients} senders, {seconds:.0f} s: sent {len(sent)},"
              f" delivered {len(received)} ({rate:.0f} msg/s end to end)")  # fmt: skip
        print(f"  accepted at one.bench -> claimed at two.bench: {percentiles(latencies)}")
    dns.stop()


def signing_cost() -> None:
    key = GatewayKey.from_settings(None, "bench secret")
    body = b'{"version":"1.0","sender":"a@one.bench","recipients":["b@two.bench"],' + b"x" * 200
    url = "https://gw.two.bench/v1/messages"
    headers = list(key.signature_headers("POST", url, body, "one.bench").items())
    rounds = 2000
    sign = timeit.timeit(
        lambda: key.signature_headers("POST", url, body, "one.bench"), number=rounds
    )
    check = timeit.timeit(
        lambda: verify_request("POST", url, headers, body, "one.bench", key.public_key),
        number=rounds,
    )
    print(f"signing {sign / rounds * 1e6:.0f} µs, verifying {check / rounds * 1e6:.0f} µs"
          f" per request (in process, {rounds} rounds)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        trio.run(run, args.store, args.clients, args.seconds, Path(work))
    signing_cost()


if __name__ == "__main__":
    main()
