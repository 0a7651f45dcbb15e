"""The default mode: closed-loop ``send`` and ``claim-ack`` load, ceiling first.

For each client count it measures the bare Quart-Trio ceiling, then ATP on a fresh store,
each measurement in its own load-generator process (``bench_lib.load``) so that the
generator's CPU is counted apart from the bench's. See ops/README.md, "What a run does".
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time
import uuid
from functools import partial
from pathlib import Path
from typing import Any

import trio

from bench_lib import e2e_run, report
from bench_lib.fixtures import open_accounts, prefill
from bench_lib.load import GRACE, MAX_SECONDS
from bench_lib.report import say
from bench_lib.servers import (
    Server,
    ServerError,
    atp_server,
    ceiling_server,
    child_env,
    machine_cpu_seconds,
)

__all__ = ["SCENARIOS", "client_counts", "measure", "print_result", "run", "send_routes"]

SCENARIOS = ("send", "a2a-send", "send-batch", "claim-ack", "e2e", "e2e-batch", "e2e-stream")


def client_counts(text: str) -> list[int]:
    """``--clients``: a comma-separated list of client counts."""
    counts = [int(part) for part in text.split(",") if part.strip()]
    if not counts or any(c < 1 or c > 1024 for c in counts):
        raise ValueError("--clients: positive counts up to 1024, e.g. 1,32")
    return counts


def _run_load(spec: dict[str, Any]) -> dict[str, Any]:
    """One load-generator process; its JSON result."""
    cap = spec["seconds"] if spec.get("requests") is None else spec["max_seconds"]
    proc = subprocess.run(
        [sys.executable, "-m", "bench_lib.load"],
        input=json.dumps(spec),
        capture_output=True,
        text=True,
        env=child_env({}),
        timeout=spec["warmup"] + cap + GRACE + 60,
        check=False,
    )
    if proc.returncode != 0:
        raise ServerError(f"load generator failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def _spec(args: argparse.Namespace, port: int, scenario: str, clients: list[Any]) -> dict[str, Any]:
    return {
        "port": port,
        "scenario": scenario,
        "clients": clients,
        "seconds": args.seconds,
        "warmup": args.warmup,
        "requests": args.requests,
        "max_seconds": MAX_SECONDS,
        "run_id": uuid.uuid4().hex[:12],
    }


def measure(
    args: argparse.Namespace, server: Server, target: str, scenario: str, clients: list[Any]
) -> dict[str, Any]:
    """One load-generator run against ``server`` once it is idle, with the CPU% of the
    server and of the machine over the run (shared with the ``--sessions`` mode)."""
    waited = server.wait_idle()
    say(f"- {target} {scenario} x{len(clients)} (server idle after {waited:.1f} s)")
    cpu, machine, started = server.cpu_seconds(), machine_cpu_seconds(), time.monotonic()
    result = _run_load(_spec(args, server.port, scenario, clients))
    elapsed = time.monotonic() - started
    result["server_cpu_pct"] = 100 * (server.cpu_seconds() - cpu) / elapsed
    result["machine_cpu_pct"] = 100 * (machine_cpu_seconds() - machine) / elapsed
    result["target"] = target
    say(f"  {result['rps']:.1f} req/s, p50 {result['p50_ms']:.2f} ms, {result['failed']} failed")
    return result


def send_routes(args: argparse.Namespace, server: Server) -> list[list[str]]:
    """Fresh accounts of two agents each; the (token, address) pairs the ``send`` clients
    cycle through, one per recipient (``--recipients``)."""
    accounts = trio.run(
        partial(
            open_accounts, server.port, math.ceil(args.recipients / 2),
            concurrency=args.concurrency,
        )
    )  # fmt: skip
    routes = [[a.agents[i].token, a.agents[1 - i].address] for a in accounts for i in (0, 1)]
    return routes[: max(args.recipients, 1)]


def _prefill_per_client(args: argparse.Namespace, clients: int, send_rps: float | None) -> int:
    if args.prefill is not None:
        return int(args.prefill)
    rps = send_rps or 1000.0
    warmup: float = args.warmup
    seconds: float = args.seconds
    if args.requests is not None:
        requests: int = args.requests
        return requests // 2 + math.ceil(rps * warmup / clients) + 20
    # A claim+ACK cycle is two requests, each about as heavy as a send: 1.2x sends is ~2x margin.
    return math.ceil(1.2 * rps * (seconds + warmup) / clients) + 20


def _e2e_row(result: dict[str, Any]) -> dict[str, Any]:
    """An end-to-end result in the table's columns: messages done count as requests."""
    return result | {"rps": result["msg_per_s"], "ok": result["messages"], "per_op": {}}


def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """Ceiling, then ATP: every scenario at every client count."""
    counts = client_counts(args.clients)
    chosen = args.scenarios or "send,claim-ack"
    scenarios = [s.strip() for s in chosen.split(",") if s.strip()]
    if unknown := set(scenarios) - set(SCENARIOS):
        raise ValueError(f"unknown scenario(s): {', '.join(sorted(unknown))}")
    rows: list[dict[str, Any]] = []
    if not args.no_ceiling and "send" in scenarios:
        with ceiling_server(work) as ceiling:
            say(f"ceiling (bare Quart-Trio + Hypercorn) on port {ceiling.port}")
            dummy = [["ceiling-token", "atp://agent/agt_ceiling"]]
            for count in counts:
                rows.append(measure(args, ceiling, "ceiling", "send", [{"routes": dummy}] * count))
    with atp_server(args.store, work, args.pg_url) as server:
        say(f"ATP ({args.store}) on port {server.port}, pid {server.pid}")
        for count in counts:
            send_rps = None
            if "send" in scenarios:
                routes = send_routes(args, server)
                row = measure(args, server, "atp", "send", [{"routes": routes}] * count)
                rows.append(row)
                send_rps = row["rps"]
            if "a2a-send" in scenarios:
                routes = send_routes(args, server)
                row = measure(args, server, "atp", "a2a-send", [{"routes": routes}] * count)
                rows.append(row)
                if send_rps:
                    row["over_send"] = row["rps"] / send_rps
                    say(f"  A2A SendMessage / ATP send: {row['over_send']:.1%} of the rate")
            if "send-batch" in scenarios:
                routes = send_routes(args, server)
                conf = {"routes": routes, "batch": args.batch}
                row = measure(args, server, "atp", "send-batch", [conf] * count)
                row["messages_per_second"] = row["rps"] * args.batch
                say(f"  {row['messages_per_second']:.0f} messages/s in batches of {args.batch}")
                rows.append(row)
            if "claim-ack" in scenarios:
                per_client = _prefill_per_client(args, count, send_rps)
                accounts = trio.run(
                    partial(open_accounts, server.port, count, concurrency=args.concurrency)
                )
                say(f"  prefill: {per_client} messages for each of {count} inbox(es)")
                pairs = [(a.agents[0], a.agents[1]) for a in accounts]
                trio.run(
                    partial(prefill, server.port, pairs, per_client, concurrency=args.concurrency)
                )
                clients = [{"token": a.agents[1].token} for a in accounts]
                row = measure(args, server, "atp", "claim-ack", clients)
                row["prefill_per_client"] = per_client
                rows.append(row)
            for scenario in ("e2e", "e2e-batch", "e2e-stream"):
                if scenario in scenarios:
                    rows.append(_e2e_row(e2e_run.measure(args, server, scenario, count)))
        issues = server.log_issues()
    return {"rows": rows, "server_log_issues": issues, **report.judge_load(args.store, rows)}


def print_result(args: argparse.Namespace, result: dict[str, Any]) -> None:
    """The table, the ratios to the ceiling, the bars and the failed requests."""
    window = f"{args.requests} requests/client" if args.requests else f"{args.seconds:g} s"
    print(f"ATP benchmark: {args.store} store, {window} per run, {args.warmup:g} s warm-up")
    print(report.load_table(result["rows"]))
    ratios = result["send_over_ceiling"]
    if ratios:
        text = ", ".join(f"{c} client(s) {r:.1%}" for c, r in ratios.items())
        print(f"\nDurable send / ceiling throughput: {text}")
    if result["bars"]:
        print("Bars:\n" + report.verdicts(result["bars"]))
    failed = sum(row["failed"] for row in result["rows"])
    sent = sum(row["sent"] for row in result["rows"])
    print(f"Failed requests (non-2xx or broken connection): {failed} of {sent} sent")
    for row in result["rows"]:
        report.print_failures(f"{row['target']} {row['scenario']} x{row['clients']}", row)
