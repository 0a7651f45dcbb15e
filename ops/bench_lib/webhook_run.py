"""``--webhook`` mode: end-to-end push latency at steady offered rates, step by step.

The plan: start ``atp serve`` allowed to push to 127.0.0.1, start the ``Receiver``, then
for each rate of ``--rates`` make fresh fixtures, wait until the server is idle and run
one open-loop step (``webhook_step.run_step``). It stops after the first step that is
not sustained: past capacity every step only builds a longer queue. See ops/README.md.
"""

from __future__ import annotations

import argparse
import math
import uuid
from pathlib import Path
from typing import Any

import trio

from bench_lib import report
from bench_lib.fixtures import open_accounts, set_webhook_endpoints
from bench_lib.report import say
from bench_lib.servers import Server, atp_server, machine_cpu_seconds
from bench_lib.webhook_receiver import Receiver
from bench_lib.webhook_step import Route, StepConfig, run_step

__all__ = ["RATES", "print_result", "run"]

RATES = "200,225,250,300,400,500,600,800,1000"
# The carrier warns at start that loopback pushes are allowed: expected in webhook mode.
ALLOW_PRIVATE_WARNING = "ATP_WEBHOOK_ALLOW_PRIVATE=1"


def _rates(text: str) -> list[float]:
    rates = [float(part) for part in text.split(",") if part.strip()]
    if not rates or any(r <= 0 or r > 20_000 for r in rates):
        raise ValueError("--rates: positive msg/s up to 20000, e.g. 200,400,600")
    return rates


def _auto_senders(rate: float) -> int:
    """Enough connections for sends answered within 0.5 s to keep the offered rate."""
    return max(64, math.ceil(rate / 2))


def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """Every step up to the first not sustained, the receiver's totals and the bar."""
    if args.requests is not None:
        raise ValueError("--webhook runs for --seconds per step; --requests does not apply")
    if args.recipients < 1 or (args.senders is not None and args.senders < 1):
        raise ValueError("--recipients and --senders must be positive")
    rates = _rates(args.rates)
    env = {"ATP_WEBHOOK_ALLOW_PRIVATE": "1"}
    with atp_server(args.store, work, args.pg_url, extra_env=env) as server:
        say(f"ATP ({args.store}) on port {server.port}, pid {server.pid}")
        steps, receiver = trio.run(_steps, args, server, rates)
        issues = server.log_issues(expected=(ALLOW_PRIVATE_WARNING,))
    return {
        "steps": steps,
        "receiver": receiver,
        **report.judge_webhook(args.store, steps),
        "server_log_issues": issues,
    }


async def _steps(
    args: argparse.Namespace, server: Server, rates: list[float]
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    receiver = Receiver()
    ports = await receiver.open(args.recipients)
    steps: list[dict[str, Any]] = []
    async with trio.open_nursery() as nursery:
        nursery.start_soon(receiver.serve)
        say(f"receiver on {len(ports)} port(s), {min(ports)}..{max(ports)}")

        def cpu() -> tuple[float, float]:
            return server.cpu_seconds(), machine_cpu_seconds()

        for n, rate in enumerate(rates):
            # Fresh recipients for every step: each step starts from new mailboxes, as
            # the first one does, whatever the steps before it left in theirs.
            routes = await _routes(args, server.port, ports, f"hook{n}")
            waited = await trio.to_thread.run_sync(server.wait_idle)
            say(f"- webhook {rate:g} msg/s (server idle after {waited:.1f} s)")
            config = StepConfig(
                rate=rate,
                seconds=args.seconds,
                warmup=args.warmup,
                drain=args.drain,
                senders=args.senders or _auto_senders(rate),
                run_id=f"{uuid.uuid4().hex[:10]}-{n}",
            )
            step = await run_step(server.port, routes, receiver, config, cpu)
            step["sustained"], step["not_sustained_because"] = _sustained(step, args.max_p99_ms)
            steps.append(step)
            e2e = step["e2e"]
            say(
                f"  achieved {step['achieved_rate']:.1f} msg/s, e2e p50 {e2e['p50_ms']:.2f} ms,"
                f" p99 {e2e['p99_ms']:.2f} ms, {step['missing']} missing"
                + ("" if step["sustained"] else f"; not sustained: {step['not_sustained_because']}")
            )
            if not step["sustained"]:
                break
        nursery.cancel_scope.cancel()
    totals = {
        "requests": receiver.requests,
        "duplicates": receiver.duplicates,
        "unmatched": receiver.unmatched,
        "connections": receiver.connections,
        "errors": dict(receiver.errors),
    }
    return steps, totals


async def _routes(
    args: argparse.Namespace, port: int, receiver_ports: list[int], prefix: str
) -> list[Route]:
    """One free account per receiver port: agent 0 sends to agent 1, whose endpoint is
    that port (each recipient its own origin)."""
    accounts = await open_accounts(
        port, len(receiver_ports), prefix=prefix, concurrency=args.concurrency
    )
    endpoints = [
        (a.agents[1], f"http://127.0.0.1:{receiver_port}/hook/{a.agents[1].id}")
        for a, receiver_port in zip(accounts, receiver_ports, strict=True)
    ]
    await set_webhook_endpoints(port, endpoints, concurrency=args.concurrency)
    return [Route(a.agents[0].token, a.agents[1].address) for a in accounts]


def print_result(args: argparse.Namespace, result: dict[str, Any]) -> None:
    """The step table, the highest sustained rate, the bar, the receiver's totals and the
    failed sends."""
    print(
        f"ATP webhook end-to-end latency: {args.store} store, {args.recipients} recipient(s), "
        f"{args.seconds:g} s per step after {args.warmup:g} s warm-up, "
        + (f"{args.senders} senders" if args.senders else "senders: rate/2, at least 64")
    )
    steps = result["steps"]
    print(report.webhook_table(steps))
    best = result["highest_sustained_rate"]
    tried = ", ".join(f"{s['rate']:g}" for s in steps)
    print(
        "\nHighest sustained rate: "
        + (f"{best:g} msg/s" if best is not None else "none")
        + f" (tried {tried}; sustained = achieved >= 95% of offered, e2e p99 < "
        f"{args.max_p99_ms:g} ms, nothing missing after a {args.drain:g} s drain, no failed send)"
    )
    if result["bars"]:
        print("Bar:\n" + report.verdicts(result["bars"]))
    totals = result["receiver"]
    print(
        f"Receiver: {totals['requests']} request(s) on {totals['connections']} connection(s),"
        f" {totals['duplicates']} duplicate(s), {totals['unmatched']} without a message id"
        + (f", errors {totals['errors']}" if totals["errors"] else "")
    )
    for step in steps:
        report.print_failures(f"{step['rate']:g} msg/s", step)


def _sustained(step: dict[str, Any], max_p99_ms: float) -> tuple[bool, str]:
    """Whether a step held its rate, and if not, why."""
    reasons = []
    if step["achieved_rate"] < 0.95 * step["rate"]:
        reasons.append(f"achieved {step['achieved_rate']:.0f}/s < 95% of offered")
    if step["e2e"]["p99_ms"] >= max_p99_ms:
        reasons.append(f"p99 {step['e2e']['p99_ms']:.0f} ms >= {max_p99_ms:g} ms")
    if step["missing"]:
        reasons.append(f"{step['missing']} missing")
    if step["failed"]:
        reasons.append(f"{step['failed']} failed sends")
    if step["not_pushed"]:
        reasons.append(f"{step['not_pushed']} not pushed")
    return not reasons, "; ".join(reasons)
