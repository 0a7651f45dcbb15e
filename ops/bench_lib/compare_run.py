"""``--brokers rabbitmq,nats``: ATP end to end against RabbitMQ and NATS JetStream, the
same workload in alternating rounds.

Every system gets the same load (``e2e_tally``): ``--clients`` pairs of a producer and a
consumer, each pair on its own queue (ATP: its own recipient agent; RabbitMQ: a quorum
queue; NATS: a file-stored work-queue stream on a server that syncs every write), the
same 250-byte payload, the same batch size and flow window, each system's load in its
own generator process. Each round measures every system back to back (the order turns
around from one round to the next, since a slot can read faster than the next one), so
that the ratios judge the systems in the same minutes; the bars are judged on the
median round's ratios.
"""

from __future__ import annotations

import argparse
import statistics
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from bench_lib import report
from bench_lib.brokers import BROKERS, Broker, nats_server, rabbitmq
from bench_lib.e2e_run import SCENARIOS, measure
from bench_lib.load_run import client_counts
from bench_lib.report import say
from bench_lib.servers import Server, atp_server

__all__ = ["BARS", "brokers", "judge", "print_result", "round_ratios", "run"]

# The issue's bars, end to end with batches at 32 pairs: ATP's msg/s at least this
# share of RabbitMQ's quorum queue's, and its server CPU per message at most this many
# times RabbitMQ's.
BARS: dict[str, dict[str, float]] = {
    "sqlite": {"rate_share": 0.50, "cpu_times": 3.0},
    "postgres": {"rate_share": 0.40, "cpu_times": 3.0},
}
BAR_SCENARIO, BAR_CLIENTS = "e2e-batch", 32


def brokers(text: str) -> list[str]:
    """``--brokers``: a comma-separated subset of ``rabbitmq,nats``."""
    names = [part.strip() for part in text.split(",") if part.strip()]
    if not names or set(names) - set(BROKERS):
        raise ValueError(f"--brokers: a comma-separated list of {','.join(BROKERS)}")
    return list(dict.fromkeys(names))


def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """``--rounds`` rounds; each measures every scenario and client count on ATP and on
    each broker."""
    names = brokers(args.brokers)
    scenarios = [s.strip() for s in (args.scenarios or BAR_SCENARIO).split(",") if s.strip()]
    if unknown := set(scenarios) - set(SCENARIOS):
        raise ValueError(f"--brokers: scenarios of {','.join(SCENARIOS)}, not {unknown}")
    if args.rounds < 1:
        raise ValueError("--rounds: at least one")
    counts = client_counts(args.clients)
    rows: list[dict[str, Any]] = []
    with ExitStack() as stack:
        systems: list[tuple[str, Server | Broker]] = []
        atp = stack.enter_context(atp_server(args.store, work, args.pg_url))
        systems.append(("atp", atp))
        for name in names:
            broker = rabbitmq() if name == "rabbitmq" else stack.enter_context(nats_server(work))
            systems.append((name, broker))
        say(", ".join(f"{name} pid {system.pid}" for name, system in systems))
        for round_ in range(1, args.rounds + 1):
            for scenario in scenarios:
                for count in counts:
                    for _, system in systems if round_ % 2 else systems[::-1]:
                        row = measure(args, system, scenario, count)
                        row["round"] = round_
                        rows.append(row)
        issues = atp.log_issues()
    ratios = round_ratios(rows)
    return {
        "rows": rows,
        "ratios": ratios,
        "bars": judge(args.store, args.batch, ratios),
        "server_log_issues": issues,
    }


def round_ratios(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per scenario, client count and broker: each round's ATP/broker ratios of msg/s and
    of server CPU per message (settled, and in the window), and their medians. Keyed
    ``"<scenario> x<clients> / <broker>"``."""
    ratios: dict[str, dict[str, Any]] = {}
    for row in rows:
        if row["target"] != "atp":
            continue
        for other in rows:
            same = (other["scenario"], other["clients"], other["round"])
            if other["target"] == "atp" or same != (row["scenario"], row["clients"], row["round"]):
                continue
            key = f"{row['scenario']} x{row['clients']} / {other['target']}"
            entry = ratios.setdefault(key, {"rate": [], "cpu": [], "cpu_window": []})
            entry["rate"].append(row["msg_per_s"] / max(other["msg_per_s"], 1e-9))
            for name, field in (
                ("cpu", "settled_cpu_us_per_msg"),
                ("cpu_window", "server_cpu_us_per_msg"),
            ):
                entry[name].append(row[field] / max(other[field], 1e-9))
    for entry in ratios.values():
        for name in ("rate", "cpu", "cpu_window"):
            entry[f"{name}_median"] = statistics.median(entry[name])
    return ratios


def judge(store: str, batch: int, ratios: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The issue's bars, where this run measured them (batches at 32 pairs vs RabbitMQ)."""
    entry = ratios.get(f"{BAR_SCENARIO} x{BAR_CLIENTS} / rabbitmq")
    if entry is None:
        return []
    bars = BARS[store]
    where = f"end to end, batches of {batch}, {BAR_CLIENTS} pairs (median round)"
    if batch != 100:
        where += "; the bar is set for batches of 100"
    return [
        {
            "bar": f"{where}: ATP msg/s >= {bars['rate_share']:.0%} of RabbitMQ's",
            "value": f"{entry['rate_median']:.1%}",
            "pass": entry["rate_median"] >= bars["rate_share"],
        },
        {
            "bar": f"{where}: ATP server CPU per message (settled) <= "
            f"{bars['cpu_times']:g}x RabbitMQ's",
            "value": f"{entry['cpu_median']:.2f}x "
            f"(in the window: {entry['cpu_window_median']:.2f}x)",
            "pass": entry["cpu_median"] <= bars["cpu_times"],
        },
    ]


def print_result(args: argparse.Namespace, result: dict[str, Any]) -> None:
    """Every measurement, the medians per system, each round's ratios and the bars."""
    print(
        f"ATP vs {args.brokers}, end to end: {args.store} store, {args.rounds} round(s) of "
        f"{args.seconds:g} s, {args.warmup:g} s warm-up, batches of {args.batch}"
    )
    print(report.e2e_table(result["rows"]) + "\n")
    print(report.e2e_medians(result["rows"]) + "\n")
    for key, entry in result["ratios"].items():
        rates = ", ".join(f"{r:.2f}" for r in entry["rate"])
        cpus = ", ".join(f"{c:.2f}" for c in entry["cpu"])
        print(
            f"ATP / {key}: msg/s {entry['rate_median']:.2f} (rounds {rates}); "
            f"server CPU per msg, settled {entry['cpu_median']:.2f}x (rounds {cpus}), "
            f"in the window {entry['cpu_window_median']:.2f}x"
        )
    if result["bars"]:
        print("Bars:\n" + report.verdicts(result["bars"]))
    for row in result["rows"]:
        label = f"round {row['round']} {row['target']} {row['scenario']} x{row['clients']}"
        report.print_failures(label, row)
