"""``--interleave ROUNDS``: the send ratio to the ceiling, measured in alternating slices.

The default mode measures the ceiling first and ATP minutes later. This machine's speed
drifts by 15% and more within such a span, and the ratio then judges the minute as much
as the code. Here both servers run side by side (the idle one costs nothing), and each
round measures the ceiling and then ATP, back to back, at each client count. Every
round gives one ratio; the bars are judged on the median round.

``--compare TREE`` adds a third server running another checkout's code (a ``git
worktree`` of the commit to compare with), measured in the same rounds right after this
tree's: each round then also gives the paired ratio of this tree's sends to that one's,
the fair test of a change smaller than the machine's drift.
"""

from __future__ import annotations

import argparse
import statistics
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from bench_lib import report
from bench_lib.load_run import client_counts, measure, send_routes
from bench_lib.report import say
from bench_lib.servers import atp_server, ceiling_server

__all__ = ["print_result", "run"]


def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """Rounds of (ceiling, ATP) durable-send slices at every client count."""
    if args.interleave < 1:
        raise ValueError("--interleave: at least one round")
    counts = client_counts(args.clients)
    compare: Path | None = args.compare
    if compare is not None and not (compare / "atp" / "__init__.py").is_file():
        raise ValueError(f"--compare: {compare} is not an ATP checkout")
    rows: list[dict[str, Any]] = []
    with ExitStack() as stack:
        ceiling = stack.enter_context(ceiling_server(work))
        servers = [("atp", stack.enter_context(atp_server(args.store, work, args.pg_url)))]
        if compare is not None:
            other = atp_server(args.store, work, args.pg_url, source=compare.resolve())
            servers.append(("compare", stack.enter_context(other)))
        say(f"ceiling on port {ceiling.port}; ATP ({args.store}) on port {servers[0][1].port}")
        routes = {target: send_routes(args, server) for target, server in servers}
        dummy = [["ceiling-token", "atp://agent/agt_ceiling"]]
        for round_ in range(1, args.interleave + 1):
            for count in counts:
                row = measure(args, ceiling, "ceiling", "send", [{"routes": dummy}] * count)
                row["round"] = round_
                rows.append(row)
                # Alternate which tree goes first: the slot right after the ceiling's
                # may differ from the next one.
                for target, server in servers if round_ % 2 else servers[::-1]:
                    clients = [{"routes": routes[target]}] * count
                    row = measure(args, server, target, "send", clients)
                    row["round"] = round_
                    rows.append(row)
        issues = [line for _, server in servers for line in server.log_issues()]
    result = {"rows": rows, "server_log_issues": issues, **_judge(args.store, rows)}
    if compare is not None:
        result["compare"] = {"tree": str(compare), **_paired(rows)}
    return result


def _ratios(rows: list[dict[str, Any]], against: str) -> dict[str, list[float]]:
    """Per client count: each round's ATP throughput over the ``against`` target's."""
    rounds: dict[str, list[float]] = {}
    for row in rows:
        if row["target"] != "atp":
            continue
        other = next(
            r
            for r in rows
            if (r["target"], r["clients"], r["round"]) == (against, row["clients"], row["round"])
        )
        rounds.setdefault(str(row["clients"]), []).append(
            row["rps"] / other["rps"] if other["rps"] else 0.0
        )
    return rounds


def _paired(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Per client count: each round's ATP / compare throughput, and their median."""
    rounds = _ratios(rows, "compare")
    return {"rounds": rounds, "medians": {k: statistics.median(v) for k, v in rounds.items()}}


def _judge(store: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Per client count: each round's ratio, their median, and the bars on the medians."""
    rounds = _ratios(rows, "ceiling")
    p50s: dict[str, list[float]] = {}
    ceiling_p50s: dict[str, list[float]] = {}
    for row in rows:
        if row["target"] in ("atp", "ceiling"):
            into = p50s if row["target"] == "atp" else ceiling_p50s
            into.setdefault(str(row["clients"]), []).append(row["p50_ms"])
    medians = {key: statistics.median(values) for key, values in rounds.items()}
    bars = report.BARS[store]
    checks: list[dict[str, Any]] = []
    if "32" in medians:
        checks.append(
            {
                "bar": f"32 clients: durable send >= {bars['ratio_at_32']:.0%} of the ceiling"
                " (median round)",
                "value": f"{medians['32']:.1%}",
                "pass": medians["32"] >= bars["ratio_at_32"],
            }
        )
    if "1" in p50s:
        p50 = statistics.median(p50s["1"])
        ceiling_p50 = statistics.median(ceiling_p50s["1"])
        checks.append(
            {
                "bar": f"1 client: durable send p50 <= {bars['p50_at_1_ms']:g} ms (median round)",
                "value": f"{p50:.2f} ms {report.against_ceiling(p50, ceiling_p50)}",
                "pass": p50 <= bars["p50_at_1_ms"],
            }
        )
    return {"round_ratios": rounds, "send_over_ceiling": medians, "bars": checks}


def print_result(args: argparse.Namespace, result: dict[str, Any]) -> None:
    """Every slice, each round's ratio, the medians and the bars."""
    print(
        f"ATP benchmark, interleaved: {args.store} store, {args.interleave} round(s) of "
        f"{args.seconds:g} s slices, {args.warmup:g} s warm-up each"
    )
    print(report.load_table(result["rows"]) + "\n")
    for clients, ratios in result["round_ratios"].items():
        each = ", ".join(f"{r:.1%}" for r in ratios)
        median = result["send_over_ceiling"][clients]
        print(f"Durable send / ceiling, {clients} client(s): rounds {each}; median {median:.1%}")
    if "compare" in result:
        paired = result["compare"]
        print(f"This tree / {paired['tree']} (paired, same rounds):")
        for clients, ratios in paired["rounds"].items():
            each = ", ".join(f"{r:.3f}" for r in ratios)
            median = paired["medians"][clients]
            print(f"  {clients} client(s): rounds {each}; median {median:.3f}")
    print("Bars:\n" + report.verdicts(result["bars"]))
    failed = sum(row["failed"] for row in result["rows"])
    sent = sum(row["sent"] for row in result["rows"])
    print(f"Failed requests (non-2xx or broken connection): {failed} of {sent} sent")
