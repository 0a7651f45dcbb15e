"""``ops/bench``: argument parsing and the run plan (see ops/README.md)."""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import trio

from bench_lib import report
from bench_lib.fixtures import Account, SetupError, open_accounts, prefill
from bench_lib.load import GRACE, MAX_SECONDS
from bench_lib.servers import (
    PG_URL,
    Server,
    ServerError,
    atp_server,
    ceiling_server,
    child_env,
    machine_cpu_seconds,
)

__all__ = ["main"]

SCENARIOS = ("send", "claim-ack")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="ops/bench", description="ATP throughput/latency benchmark (loopback only)"
    )
    p.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    p.add_argument("--clients", default="1,32", help="comma-separated client counts (1,32)")
    p.add_argument("--seconds", type=float, default=10.0, help="measured seconds per run (10)")
    p.add_argument("--requests", type=int, help="instead of --seconds: requests per client")
    p.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds first (1)")
    p.add_argument("--scenarios", default=",".join(SCENARIOS), help="send,claim-ack")
    p.add_argument("--recipients", type=int, default=8, help="send: recipients to spread over")
    p.add_argument("--prefill", type=int, help="claim-ack: messages per client (default: auto)")
    p.add_argument("--no-ceiling", action="store_true", help="skip the bare Quart-Trio ceiling")
    p.add_argument("--agents-rss", type=int, metavar="N", help="RSS mode: register N agents")
    p.add_argument(
        "--rss-settle",
        type=float,
        default=35.0,
        help="RSS mode: seconds before a last reading, past the 30 s actor idle timeout (35)",
    )
    p.add_argument("--concurrency", type=int, default=16, help="setup connections (16)")
    p.add_argument("--pg-url", default=PG_URL, help=f"loopback PostgreSQL ({PG_URL})")
    p.add_argument("--json", type=Path, metavar="OUT", help="also write the results as JSON")
    return p


def _client_counts(text: str) -> list[int]:
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


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _measure(
    args: argparse.Namespace, server: Server, target: str, scenario: str, clients: list[Any]
) -> dict[str, Any]:
    waited = server.wait_idle()
    _say(f"- {target} {scenario} x{len(clients)} (server idle after {waited:.1f} s)")
    cpu, machine, started = server.cpu_seconds(), machine_cpu_seconds(), time.monotonic()
    result = _run_load(_spec(args, server.port, scenario, clients))
    elapsed = time.monotonic() - started
    result["server_cpu_pct"] = 100 * (server.cpu_seconds() - cpu) / elapsed
    result["machine_cpu_pct"] = 100 * (machine_cpu_seconds() - machine) / elapsed
    result["target"] = target
    _say(f"  {result['rps']:.1f} req/s, p50 {result['p50_ms']:.2f} ms, {result['failed']} failed")
    return result


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


def _load_runs(args: argparse.Namespace, counts: list[int], work: Path) -> dict[str, Any]:
    scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    if unknown := set(scenarios) - set(SCENARIOS):
        raise ValueError(f"unknown scenario(s): {', '.join(sorted(unknown))}")
    rows: list[dict[str, Any]] = []
    if not args.no_ceiling and "send" in scenarios:
        with ceiling_server(work) as ceiling:
            _say(f"ceiling (bare Quart-Trio + Hypercorn) on port {ceiling.port}")
            dummy = [["ceiling-token", "atp://agent/agt_ceiling"]]
            for count in counts:
                rows.append(_measure(args, ceiling, "ceiling", "send", [{"routes": dummy}] * count))
    with atp_server(args.store, work, args.pg_url) as server:
        _say(f"ATP ({args.store}) on port {server.port}, pid {server.pid}")
        for count in counts:
            send_rps = None
            if "send" in scenarios:
                accounts = trio.run(_accounts, server.port, math.ceil(args.recipients / 2), args)
                routes = [
                    [a.agents[i].token, a.agents[1 - i].address] for a in accounts for i in (0, 1)
                ][: max(args.recipients, 1)]
                row = _measure(args, server, "atp", "send", [{"routes": routes}] * count)
                rows.append(row)
                send_rps = row["rps"]
            if "claim-ack" in scenarios:
                per_client = _prefill_per_client(args, count, send_rps)
                accounts = trio.run(_accounts, server.port, count, args)
                _say(f"  prefill: {per_client} messages for each of {count} inbox(es)")
                pairs = [(a.agents[0], a.agents[1]) for a in accounts]
                trio.run(_prefill, server.port, pairs, per_client, args)
                clients = [{"token": a.agents[1].token} for a in accounts]
                row = _measure(args, server, "atp", "claim-ack", clients)
                row["prefill_per_client"] = per_client
                rows.append(row)
        issues = server.log_issues()
    return {"rows": rows, "server_log_issues": issues, **report.judge_load(args.store, rows)}


async def _accounts(port: int, count: int, args: argparse.Namespace) -> list[Account]:
    return await open_accounts(port, count, concurrency=args.concurrency)


async def _prefill(port: int, pairs: list[Any], per_client: int, args: argparse.Namespace) -> int:
    return await prefill(port, pairs, per_client, concurrency=args.concurrency)


def _rss_run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    agents: int = args.agents_rss
    with atp_server(args.store, work, args.pg_url) as server:
        _say(f"ATP ({args.store}) on port {server.port}, pid {server.pid}")
        # Warm up the code paths (imports, caches, pools) before the first reading.
        trio.run(_accounts, server.port, 10, args)
        server.wait_idle()
        before = server.rss_mb()
        started = time.perf_counter()
        accounts = trio.run(_many_agents, server.port, agents, args)
        seconds = time.perf_counter() - started
        server.wait_idle()
        after = server.rss_mb()
        settled = None
        if args.rss_settle > 0:
            _say(f"  RSS {after:.1f} MB; waiting {args.rss_settle:g} s for idle actors to stop")
            time.sleep(args.rss_settle)
            settled = server.rss_mb()
        issues = server.log_issues()
    requests = len(accounts) + agents
    rss = {
        "agents": agents,
        "accounts": len(accounts),
        "seconds": seconds,
        "requests_per_s": requests / seconds,
        "failed": 0,  # any failed registration aborts the run
        "before_mb": before,
        "after_mb": after,
        "delta_mb": after - before,
        "settle_seconds": args.rss_settle,
        "settled_mb": settled,
    }
    return {"rss": rss, "bar": report.judge_rss(rss), "server_log_issues": issues}


async def _many_agents(port: int, agents: int, args: argparse.Namespace) -> list[Account]:
    full, rest = divmod(agents, 2)
    accounts = await open_accounts(
        port, full, prefix="rss", concurrency=args.concurrency, progress="accounts+agents"
    )
    if rest:
        accounts += await open_accounts(port, 1, agents_each=1, prefix="rss-last")
    return accounts


def _print(args: argparse.Namespace, result: dict[str, Any]) -> None:
    print(f"\nload average at start: {result['loadavg_at_start']} (other load skews results)")
    if "rss" in result:
        print(f"ATP agents RSS ({args.store} store)")
        print(report.rss_table(result["rss"]))
        print("Bar:\n" + report.verdicts([result["bar"]]))
    else:
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
            for kind, n in row["failures"].items():
                print(f"  {row['target']} {row['scenario']} x{row['clients']}: {n} x {kind}")
            for sample in row["failure_samples"]:
                print(f"    e.g. {sample}")
    issues = result["server_log_issues"]
    print(f"Server log: {len(issues)} warning/error line(s)")
    for line in issues[:10]:
        print(f"  {line[:200]}")


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; 0 on success (whatever the bars say), 2 on a setup failure."""
    args = _parser().parse_args(argv)
    if importlib.util.find_spec("atp") is None:
        print("error: run with the project's venv: .venv/bin/python ops/bench", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="atp-bench-"))
    keep = False
    loadavg = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    try:
        if args.agents_rss is not None:
            if args.agents_rss < 1:
                raise ValueError("--agents-rss needs a positive count")
            result = _rss_run(args, work)
        else:
            result = _load_runs(args, _client_counts(args.clients), work)
        result["loadavg_at_start"] = loadavg
        result["config"] = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
        _print(args, result)
        if args.json:
            args.json.write_text(json.dumps(result, indent=2) + "\n")
            print(f"JSON written to {args.json}")
        keep = bool(result["server_log_issues"])
    except (ValueError, SetupError, ServerError, subprocess.TimeoutExpired) as exc:
        print(f"error: {exc}", file=sys.stderr)
        keep = True
        return 2
    finally:
        for data in work.glob("data-*"):
            shutil.rmtree(data, ignore_errors=True)
        if keep:
            print(f"server logs kept in {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0
