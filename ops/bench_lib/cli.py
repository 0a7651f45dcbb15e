"""``ops/bench``: argument parsing, dispatch to a mode, the JSON file and clean-up.

The modes (see ops/README.md): the default closed-loop load (``load_run``), the RSS of
N agents (``rss_run``) and of N unclaimed messages (``backlog_run``), the end-to-end
webhook push latency (``webhook_run``), ordered session turns (``session_run``), the
long poll's wake-up (``long_poll_run``), the send ratio measured in alternating
slices (``interleave_run``), ATP end to end against RabbitMQ and NATS (``compare_run``)
and end to end on a long ledger against an empty one (``history_run``).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Protocol

from bench_lib import (
    backlog_run,
    compare_run,
    e2e_run,
    history_run,
    interleave_run,
    load_run,
    long_poll_run,
    rss_run,
    session_run,
    webhook_run,
)
from bench_lib.fixtures import SetupError
from bench_lib.servers import PG_URL, ServerError

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="ops/bench", description="ATP throughput/latency benchmark (loopback only)"
    )
    p.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    p.add_argument("--clients", default="1,32", help="comma-separated client counts (1,32)")
    p.add_argument("--seconds", type=float, default=10.0, help="measured seconds per run (10)")
    p.add_argument("--requests", type=int, help="instead of --seconds: requests per client")
    p.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds first (1)")
    p.add_argument(
        "--scenarios",
        help=f"of {','.join(load_run.SCENARIOS)} (default send,claim-ack; with --brokers "
        f"or --history: e2e-batch, and of {','.join(e2e_run.SCENARIOS)})",
    )
    p.add_argument("--recipients", type=int, default=8, help="send: recipients to spread over")
    p.add_argument(
        "--batch", type=int, default=100, help="*-batch scenarios: messages per call (100)"
    )
    p.add_argument("--prefill", type=int, help="claim-ack: messages per client (default: auto)")
    p.add_argument("--no-ceiling", action="store_true", help="skip the bare Quart-Trio ceiling")
    p.add_argument("--agents-rss", type=int, metavar="N", help="RSS mode: register N agents")
    p.add_argument(
        "--rss-settle",
        type=float,
        default=35.0,
        help="RSS mode: seconds before a last reading, past the 30 s actor idle timeout (35)",
    )
    p.add_argument(
        "--backlog-rss",
        type=int,
        metavar="N",
        help="backlog mode: N unclaimed messages to one recipient",
    )
    p.add_argument(
        "--text-bytes", type=int, default=1000, help="backlog mode: text per message (1000)"
    )
    p.add_argument(
        "--dead-endpoint",
        action="store_true",
        help="backlog mode: the recipient's webhook endpoint refuses every connection",
    )
    p.add_argument(
        "--webhook",
        action="store_true",
        help="webhook mode: end-to-end push latency at steady send rates (--rates)",
    )
    p.add_argument(
        "--rates",
        default=webhook_run.RATES,
        help=f"webhook: offered msg/s per step, stops after the first not sustained "
        f"({webhook_run.RATES})",
    )
    p.add_argument(
        "--drain", type=float, default=5.0, help="webhook: seconds to wait for late pushes (5)"
    )
    p.add_argument(
        "--senders",
        type=int,
        help="webhook: concurrent send connections (default: rate/2, at least 64)",
    )
    p.add_argument(
        "--max-p99-ms",
        type=float,
        default=1000.0,
        help="webhook: a step is sustained only with e2e p99 below this (1000)",
    )
    p.add_argument(
        "--sessions",
        nargs="?",
        const=session_run.PLAN,
        metavar="PLAN",
        help="sessions mode: closed-loop turns; PLAN is SESSIONSxCLIENTS-per-session runs "
        f"(default {session_run.PLAN}); --clients does not apply",
    )
    p.add_argument(
        "--long-poll",
        nargs="?",
        type=int,
        const=long_poll_run.ROUNDS,
        metavar="ROUNDS",
        help="long-poll mode: how soon a waiting claim hears of a send "
        f"(default {long_poll_run.ROUNDS} rounds), and idle 1 s waits",
    )
    p.add_argument(
        "--interleave",
        type=int,
        metavar="ROUNDS",
        help="send only: ROUNDS rounds of ceiling and ATP slices back to back; the bars are "
        "judged on the median round",
    )
    p.add_argument(
        "--compare",
        type=Path,
        metavar="TREE",
        help="with --interleave: also run TREE's code (another checkout, e.g. a git worktree) "
        "in every round and print the paired ratio",
    )
    p.add_argument(
        "--brokers",
        metavar="LIST",
        help="compare mode: ATP end to end against these of rabbitmq,nats, in alternating "
        "rounds (--rounds), on the same workload",
    )
    p.add_argument(
        "--rounds", type=int, default=3, help="--brokers, --history: alternating rounds (3)"
    )
    p.add_argument(
        "--history",
        type=int,
        metavar="EVENTS",
        help="history mode: e2e on a store prefilled with EVENTS ledger events, against an "
        "empty store, in alternating rounds",
    )
    p.add_argument("--concurrency", type=int, default=16, help="setup connections (16)")
    p.add_argument("--pg-url", default=PG_URL, help=f"loopback PostgreSQL ({PG_URL})")
    p.add_argument("--json", type=Path, metavar="OUT", help="also write the results as JSON")
    return p


class _Mode(Protocol):
    """A mode module: ``load_run``, ``rss_run``, ``webhook_run``, ``session_run``, ..."""

    def run(self, args: argparse.Namespace, work: Path) -> dict[str, Any]: ...

    def print_result(self, args: argparse.Namespace, result: dict[str, Any]) -> None: ...


def _mode(args: argparse.Namespace) -> _Mode:
    chosen: list[tuple[str, _Mode]] = [
        (name, mode)
        for name, mode, on in (
            ("--webhook", webhook_run, args.webhook),
            ("--agents-rss", rss_run, args.agents_rss is not None),
            ("--backlog-rss", backlog_run, args.backlog_rss is not None),
            ("--sessions", session_run, args.sessions is not None),
            ("--long-poll", long_poll_run, args.long_poll is not None),
            ("--interleave", interleave_run, args.interleave is not None),
            ("--brokers", compare_run, args.brokers is not None),
            ("--history", history_run, args.history is not None),
        )
        if on
    ]
    if args.compare is not None and args.interleave is None:
        raise ValueError("--compare needs --interleave")
    if len(chosen) > 1:
        raise ValueError(f"{' and '.join(name for name, _ in chosen)} are separate runs")
    return chosen[0][1] if chosen else load_run


def _print(mode: _Mode, args: argparse.Namespace, result: dict[str, Any]) -> None:
    print(f"\nload average at start: {result['loadavg_at_start']} (other load skews results)")
    mode.print_result(args, result)
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
        mode = _mode(args)
        result = mode.run(args, work)
        result["loadavg_at_start"] = loadavg
        config = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
        config.pop("pg_url", None)  # it may carry a password
        result["config"] = config
        _print(mode, args, result)
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
