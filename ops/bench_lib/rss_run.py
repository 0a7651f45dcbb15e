"""``--agents-rss N`` mode: what registering N agents adds to the server's RSS.

The server is warmed up first (imports, caches, pools), so that the difference measures
the agents and not the first requests. A last reading after the 30 s actor idle timeout
shows what stays once idle actors have stopped. See ops/README.md.
"""

from __future__ import annotations

import argparse
import time
from functools import partial
from pathlib import Path
from typing import Any

import trio

from bench_lib import report
from bench_lib.fixtures import Account, open_accounts
from bench_lib.report import say
from bench_lib.servers import atp_server

__all__ = ["print_result", "run"]


def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """Register ``--agents-rss`` agents on a fresh server; RSS before, after, settled."""
    if args.agents_rss < 1:
        raise ValueError("--agents-rss needs a positive count")
    agents: int = args.agents_rss
    with atp_server(args.store, work, args.pg_url) as server:
        say(f"ATP ({args.store}) on port {server.port}, pid {server.pid}")
        # Warm up the code paths (imports, caches, pools) before the first reading.
        trio.run(partial(open_accounts, server.port, 10, concurrency=args.concurrency))
        server.wait_idle()
        before = server.rss_mb()
        started = time.perf_counter()
        accounts = trio.run(_many_agents, server.port, agents, args)
        seconds = time.perf_counter() - started
        server.wait_idle()
        after = server.rss_mb()
        settled = None
        if args.rss_settle > 0:
            say(f"  RSS {after:.1f} MB; waiting {args.rss_settle:g} s for idle actors to stop")
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


def print_result(args: argparse.Namespace, result: dict[str, Any]) -> None:
    """The RSS readings and the bar."""
    print(f"ATP agents RSS ({args.store} store)")
    print(report.rss_table(result["rss"]))
    print("Bar:\n" + report.verdicts([result["bar"]]))
