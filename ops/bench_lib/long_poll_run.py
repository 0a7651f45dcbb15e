"""``--long-poll`` mode: how soon a waiting claim hears of a send, and how exactly an idle
one ends.

Each round holds ``POST /api/inbox/claims`` with ``wait_seconds`` open for one agent,
then another agent of the same account sends it a message. *Wake* is the time from the
send's 201 arriving to the claim's answer arriving; it is negative when the claim's
answer comes first (the mailbox wakes the claim at the commit, before the send's reply
is written). *Idle* rounds wait 1 s with nothing to claim and report how long the claim
took to come back. The issue's figures: wake within 50 ms, idle on time.
"""

from __future__ import annotations

import argparse
import time
import uuid
from pathlib import Path
from typing import Any

import trio

from bench_lib.fixtures import Agent, open_accounts
from bench_lib.http import Connection, json_request
from bench_lib.load import percentile
from bench_lib.report import say
from bench_lib.servers import atp_server

__all__ = ["ROUNDS", "print_result", "run"]

ROUNDS = 200
_IDLE_ROUNDS = 5
_SETTLE = 0.02  # seconds for the waiting claim to reach the mailbox before the send


def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    with atp_server(args.store, work, args.pg_url) as server:
        say(f"ATP ({args.store}) on port {server.port}, pid {server.pid}")
        wake, idle = trio.run(_measure, server.port, args.long_poll)
        issues = server.log_issues()
    return {"wake_ms": wake, "idle_ms": idle, "server_log_issues": issues}


async def _measure(port: int, rounds: int) -> tuple[list[float], list[float]]:
    (account,) = await open_accounts(port, 1)
    sender, recipient = account.agents
    async with Connection(port) as claims, Connection(port) as sends:
        wake = [await _wake_round(port, claims, sends, sender, recipient) for _ in range(rounds)]
        idle = [await _idle_round(port, claims, recipient) for _ in range(_IDLE_ROUNDS)]
    return wake, idle


async def _claim(port: int, conn: Connection, agent: Agent, wait: int) -> tuple[int, bytes]:
    body = {"lease_seconds": 60, "wait_seconds": wait}
    key = str(uuid.uuid4())
    return await conn.request(
        json_request("POST", "/api/inbox/claims", port, body, token=agent.token,
                     idempotency_key=key)
    )  # fmt: skip


async def _wake_round(
    port: int, claims: Connection, sends: Connection, sender: Agent, recipient: Agent
) -> float:
    answered: dict[str, float] = {}

    async def wait_for_message() -> None:
        status, _ = await _claim(port, claims, recipient, 10)
        answered["claim"] = time.perf_counter()
        assert status == 201, f"waiting claim answered {status}"

    async with trio.open_nursery() as nursery:
        nursery.start_soon(wait_for_message)
        await trio.sleep(_SETTLE)
        key = str(uuid.uuid4())
        payload = {"messageId": key, "role": "ROLE_USER", "parts": [{"text": "wake"}]}
        status, _ = await sends.request(
            json_request("POST", "/api/messages", port, {"to": recipient.address,
                         "payload": payload}, token=sender.token, idempotency_key=key)
        )  # fmt: skip
        answered["send"] = time.perf_counter()
        assert status == 201, f"send answered {status}"
    return (answered["claim"] - answered["send"]) * 1000


async def _idle_round(port: int, claims: Connection, recipient: Agent) -> float:
    started = time.perf_counter()
    status, body = await _claim(port, claims, recipient, 1)
    assert status == 200 and b'"delivery":null' in body.replace(b" ", b""), body
    return (time.perf_counter() - started) * 1000


def print_result(args: argparse.Namespace, result: dict[str, Any]) -> None:
    wake, idle = sorted(result["wake_ms"]), sorted(result["idle_ms"])
    print(f"ATP long poll: {args.store} store, {len(wake)} wake rounds, {len(idle)} idle rounds")
    print(
        f"wake (send's 201 -> claim's answer): p50 {percentile(wake, 50):.2f} ms, "
        f"p99 {percentile(wake, 99):.2f} ms, max {wake[-1]:.2f} ms"
    )
    print(f"idle 1 s wait answered after: min {idle[0]:.0f} ms, max {idle[-1]:.0f} ms")
    verdict = "PASS" if wake[-1] <= 50 else "FAIL"
    print(f"  [{verdict}] every waiting claim answered within 50 ms of the send's 201")
    on_time = all(1000 <= d <= 1100 for d in idle)
    print(f"  [{'PASS' if on_time else 'FAIL'}] idle claims end 1.0-1.1 s after they began")
