"""``--history EVENTS``: does a message cost more when the ledger is long?

Two ATP servers run side by side on fresh stores. One is prefilled through the API
until its ledger holds EVENTS events: end-to-end runs (batch sends, batch claims, batch
ACKs: the fastest way in that takes the same path as the load) in chunks, each chunk
sized from the events per message the chunks before it showed. Then, round after round,
both servers get the same measurement (``--scenarios``, e2e-batch by default), the order
turning around each round. Each round gives the ratio of the long ledger's msg/s to the
empty one's; the issue's bar (within 10%) is judged on the median round.
"""

from __future__ import annotations

import argparse
import math
import sqlite3
import statistics
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from bench_lib import report
from bench_lib.e2e_run import SCENARIOS, measure, wait_idle
from bench_lib.load_run import client_counts
from bench_lib.report import say
from bench_lib.servers import Server, atp_server

__all__ = ["BAR", "ledger_events", "print_result", "run"]

BAR = 0.90  # the long ledger's msg/s at least this share of the empty one's
_PREFILL = argparse.Namespace(batch=250, concurrency=16)  # 250 x 330 bytes: under 128 kB
_PREFILL_PAIRS = 16
_FIRST_CHUNK = 5_000  # messages: enough to learn the events a message adds
_CHUNK_MESSAGES = 50_000
_CHUNK_CAP_SECONDS = 900.0


def ledger_events(server: Server) -> int:
    """How many events the server's ledger holds, read from the store itself: the
    SQLite file's ``stored_events``, or the PostgreSQL schema's ``atp_events``
    (eventsourcing names the table after the application there)."""
    store = server.store
    if "ATP_DATA_DIR" in store:
        path = Path(store["ATP_DATA_DIR"]) / "ledger.db"
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
            count: int = conn.execute("SELECT count(*) FROM stored_events").fetchone()[0]
        return count
    url, _, schema = store["ATP_DATABASE_URL"].partition("?schema=")
    with psycopg.connect(url, connect_timeout=10) as conn:
        query = sql.SQL("SELECT count(*) FROM {}.atp_events").format(sql.Identifier(schema))
        row = conn.execute(query).fetchone()
    assert row is not None
    return int(row[0])


def _prefill(args: argparse.Namespace, server: Server, events: int) -> dict[str, Any]:
    """End-to-end chunks until the ledger holds ``events`` events."""
    started = time.monotonic()
    settings = argparse.Namespace(**(vars(args) | vars(_PREFILL)))
    have = ledger_events(server)
    messages = 0
    per_message = 0.0
    while have < events:
        chunk = _FIRST_CHUNK
        if per_message:
            chunk = min(_CHUNK_MESSAGES, math.ceil((events - have) / per_message))
        chunk = max(chunk, _PREFILL.batch * _PREFILL_PAIRS)
        result = measure(
            settings,
            server,
            "e2e-batch",
            _PREFILL_PAIRS,
            stop_after=chunk,
            seconds=_CHUNK_CAP_SECONDS,
            quiet=True,
        )
        if result["failed"]:
            raise ValueError(f"prefill failed: {result['failure_samples']}")
        before, have = have, ledger_events(server)
        messages += result["done"]
        per_message = (have - before) / max(result["done"], 1)
        elapsed = time.monotonic() - started
        say(
            f"  prefill: {have:,} events after {messages:,} messages, {elapsed:.0f} s "
            f"({result['msg_per_s']:.0f} msg/s, {per_message:.1f} events a message)"
        )
    return {
        "events": have,
        "messages": messages,
        "seconds": time.monotonic() - started,
        "events_per_message": per_message,
    }


def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """Prefill one store, then alternate the same measurement on it and on an empty one."""
    if args.history < 1:
        raise ValueError("--history: a positive number of events")
    scenarios = [s.strip() for s in (args.scenarios or "e2e-batch").split(",") if s.strip()]
    if unknown := set(scenarios) - set(SCENARIOS):
        raise ValueError(f"--history: scenarios of {','.join(SCENARIOS)}, not {unknown}")
    counts = client_counts(args.clients)
    rows: list[dict[str, Any]] = []
    with ExitStack() as stack:
        long = stack.enter_context(atp_server(args.store, work, args.pg_url))
        empty = stack.enter_context(atp_server(args.store, work, args.pg_url))
        say(f"ATP ({args.store}): long ledger pid {long.pid}, empty ledger pid {empty.pid}")
        prefill = _prefill(args, long, args.history)
        servers = [("long", long), ("empty", empty)]
        for round_ in range(1, args.rounds + 1):
            for scenario in scenarios:
                for count in counts:
                    for target, server in servers if round_ % 2 else servers[::-1]:
                        for _, each in servers:  # the other one's audit follower too
                            wait_idle(each.pid)
                        events = ledger_events(server)
                        row = measure(args, server, scenario, count)
                        row |= {"target": target, "round": round_, "ledger_events": events}
                        rows.append(row)
        issues = long.log_issues() + empty.log_issues()
    ratios: dict[str, list[float]] = {}
    for row in rows:
        if row["target"] == "long":
            other = next(
                r
                for r in rows
                if r["target"] == "empty"
                and (r["scenario"], r["clients"], r["round"])
                == (row["scenario"], row["clients"], row["round"])
            )
            key = f"{row['scenario']} x{row['clients']}"
            ratios.setdefault(key, []).append(row["msg_per_s"] / max(other["msg_per_s"], 1e-9))
    medians = {key: statistics.median(values) for key, values in ratios.items()}
    bars = [
        {
            "bar": f"{key}: msg/s with {prefill['events']:,} events in the ledger >= "
            f"{BAR:.0%} of an empty ledger's (median round)",
            "value": f"{median:.1%}",
            "pass": median >= BAR,
        }
        for key, median in medians.items()
    ]
    return {
        "prefill": prefill,
        "rows": rows,
        "round_ratios": ratios,
        "medians": medians,
        "bars": bars,
        "server_log_issues": issues,
    }


def print_result(args: argparse.Namespace, result: dict[str, Any]) -> None:
    """The prefill, every measurement, each round's ratio and the bar."""
    prefill = result["prefill"]
    print(
        f"ATP end to end on a long ledger: {args.store} store, {args.rounds} round(s) of "
        f"{args.seconds:g} s, batches of {args.batch}"
    )
    print(
        f"prefill: {prefill['events']:,} events from {prefill['messages']:,} messages in "
        f"{prefill['seconds']:.0f} s ({prefill['events_per_message']:.1f} events a message)"
    )
    print(report.e2e_table(result["rows"]))
    for row in result["rows"]:
        print(f"  round {row['round']} {row['target']}: {row['ledger_events']:,} events before")
    for key, ratios in result["round_ratios"].items():
        each = ", ".join(f"{r:.1%}" for r in ratios)
        print(f"long / empty ledger, {key}: rounds {each}; median {result['medians'][key]:.1%}")
    print("Bars:\n" + report.verdicts(result["bars"]))
    for row in result["rows"]:
        report.print_failures(f"round {row['round']} {row['target']}", row)
