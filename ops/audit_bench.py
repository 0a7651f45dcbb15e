#!/usr/bin/env python3
"""The audit log at scale: a ledger of N events, and what it costs to prove and move it.

    .venv/bin/python ops/audit_bench.py --store sqlite --events 1000000
    .venv/bin/python ops/audit_bench.py --store postgres --events 1000000
    .venv/bin/python ops/audit_bench.py --lag --seconds 20 [--store sqlite]

The first form writes N events straight into a fresh ledger (messages with their
idempotency records, leases and ACKs, as sends, claims and ACKs make them, four events
a message), then measures: the audit follower catching up from zero (events/s), the
inclusion and consistency proofs of random leaves in the full tree (p50/p99, each a
thread trip and one query per table, as the route makes them), ``atp audit verify``
(events/s, the CLI as an operator runs it), and ``atp ledger export`` and ``import``
into a fresh store (events/s).

``--lag`` runs ``atp serve`` under the bench's 32-client send load and samples
``/metrics`` every 20 ms: for each leaf, the time from when the ledger had committed it
to when a signed checkpoint covered it (p50/p99, resolution one sample).
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import attrs
import trio
from bench_lib.servers import AUDIT_KEY, PG_URL

from atp.audit import AuditFollower, open_audit_log
from atp.domain import AckStatus, IdempotencyRecord, Message
from atp.ledger import Bridge, CarrierLedger, Ledger, eventsourcing_env
from atp.projections import apply_migrations, open_view_store
from atp.settings import Settings


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * pct))]


def fill(settings: Settings, events: int) -> int:
    """Write about ``events`` events into the ledger; the number written."""
    app = CarrierLedger(env=eventsourcing_env(settings))
    mapper = app.mapper
    now = datetime(2026, 12, 6, tzinfo=UTC)
    written, batch = 0, []
    sender, recipient = "agt_" + "s" * 22, "agt_" + "r" * 22
    for n in range(events // 4 + 1):
        message_id = f"msg_{n:022d}"
        message = Message.create(
            message_id, sender_agent_id=sender, sender_account_id="acct_bench",
            recipient_agent_id=recipient, recipient_account_id="acct_bench", trust="trusted",
            payload={"messageId": f"m-{n}", "role": "ROLE_USER", "parts": [{"text": "x" * 60}]},
            at=now, expires_at=now + timedelta(days=7),
        )  # fmt: skip
        delivery = message.lease(f"dlv_{n:022d}", 60, now)
        message.ack(f"ack_{n:022d}", delivery.id, AckStatus.COMPLETED, None, now)
        scope = f"acct_bench|agent|{sender}|POST /api/messages|key-{n}"
        kept = IdempotencyRecord.record(
            IdempotencyRecord.create_id(scope), scope=scope, request_hash="0" * 64,
            status=201, sealed_body="sealed", at=now,
        )  # fmt: skip
        for event in (*message.collect_events(), *kept.collect_events()):
            batch.append(mapper.to_stored_event(event))
        if len(batch) >= 4000:
            app.recorder.insert_events(batch)
            written += len(batch)
            batch = []
            print(f"  {written} events written", end="\r", file=sys.stderr)
    if batch:
        app.recorder.insert_events(batch)
        written += len(batch)
    app.close()
    return written


async def follow_and_prove(settings: Settings, proofs: int) -> dict[str, float]:
    bridge = Bridge(4)
    store = await bridge.run(open_view_store, settings)
    ledger = await bridge.run(Ledger, settings, bridge)
    inline = attrs.evolve(
        settings, audit_follower="inline", audit_signing_key=AUDIT_KEY, audit_origin="bench/atp"
    )
    audit = await open_audit_log(inline, ledger, store, bridge)
    assert isinstance(audit.writer, AuditFollower)
    started = time.perf_counter()
    await audit.writer.runner.catch_up()
    follow_seconds = time.perf_counter() - started
    size = await audit.committed_size()
    rng = random.Random(20)
    inclusion, consistency = [], []
    for _ in range(proofs):
        index = rng.randrange(size)
        t0 = time.perf_counter()
        await audit.inclusion(index, size)
        inclusion.append((time.perf_counter() - t0) * 1000)
        old = rng.randint(1, size)
        t0 = time.perf_counter()
        await audit.consistency(old, size)
        consistency.append((time.perf_counter() - t0) * 1000)
    await bridge.run(store.close)
    await bridge.run(ledger.close)
    return {
        "leaves": size,
        "follow_events_per_s": size / follow_seconds,
        "inclusion_p50_ms": percentile(inclusion, 0.5),
        "inclusion_p99_ms": percentile(inclusion, 0.99),
        "consistency_p50_ms": percentile(consistency, 0.5),
        "consistency_p99_ms": percentile(consistency, 0.99),
    }


def cli_env(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATP_")}
    env["ATP_DATA_DIR"] = str(settings.data_dir)
    env["ATP_SECRET_KEY"] = settings.secret_key or ""
    env["ATP_AUDIT_SIGNING_KEY"] = AUDIT_KEY
    env["ATP_AUDIT_ORIGIN"] = "bench/atp"
    if settings.database_url:
        env["ATP_DATABASE_URL"] = settings.database_url
    return env


def timed_cli(settings: Settings, *args: str) -> float:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "atp", *args], env=cli_env(settings), capture_output=True,
        text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"atp {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return time.perf_counter() - started


def store_settings(store: str, root: Path, name: str) -> tuple[Settings, str | None]:
    if store == "sqlite":
        return Settings(data_dir=root / name, secret_key="bench", audit_signing_key=AUDIT_KEY), None
    import psycopg

    schema = f"atp_audit_bench_{name}_{os.getpid()}"
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    settings = Settings(
        data_dir=root / name, database_url=f"{PG_URL}?schema={schema}", secret_key="bench",
        audit_signing_key=AUDIT_KEY,
    )  # fmt: skip
    return settings, schema


def drop(schema: str | None) -> None:
    if schema is not None:
        import psycopg

        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def scale(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        source, source_schema = store_settings(args.store, root, "source")
        target, target_schema = store_settings(args.store, root, "target")
        try:
            for settings in (source, target):
                settings.data_dir.mkdir()
                views = open_view_store(settings)
                apply_migrations(views)
                views.close()
            t0 = time.perf_counter()
            events = fill(source, args.events)
            print(f"wrote {events} events in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
            figures = trio.run(follow_and_prove, source, args.proofs)
            verify = timed_cli(source, "audit", "verify")
            path = root / "ledger.jsonl"
            export = timed_cli(source, "ledger", "export", str(path))
            size_mb = path.stat().st_size / 1e6
            imported = timed_cli(target, "ledger", "import", str(path))
        finally:
            drop(source_schema)
            drop(target_schema)
    print(f"store {args.store}, {events} events ({figures['leaves']} leaves)")
    print(f"  audit follower, from zero: {figures['follow_events_per_s']:,.0f} events/s")
    print(
        f"  inclusion proof: p50 {figures['inclusion_p50_ms']:.2f} ms,"
        f" p99 {figures['inclusion_p99_ms']:.2f} ms ({args.proofs} proofs)"
    )
    print(
        f"  consistency proof: p50 {figures['consistency_p50_ms']:.2f} ms,"
        f" p99 {figures['consistency_p99_ms']:.2f} ms"
    )
    print(f"  atp audit verify: {verify:.1f} s, {events / verify:,.0f} events/s")
    print(
        f"  atp ledger export: {export:.1f} s, {events / export:,.0f} events/s ({size_mb:.0f} MB)"
    )
    print(f"  atp ledger import: {imported:.1f} s, {events / imported:,.0f} events/s")


def lag(args: argparse.Namespace) -> None:
    import json
    import uuid

    from bench_lib import servers
    from bench_lib.load_run import send_routes

    with tempfile.TemporaryDirectory() as tmp:
        extra = {"ATP_AUDIT_CHECKPOINT_INTERVAL": str(args.interval)}
        with servers.atp_server(args.store, Path(tmp), extra_env=extra) as server:
            routes = send_routes(argparse.Namespace(recipients=8, concurrency=8), server)
            spec = {
                "port": server.port, "scenario": "send", "seconds": args.seconds,
                "warmup": 1.0, "requests": None, "run_id": uuid.uuid4().hex[:12],
                "clients": [{"routes": routes}] * 32,
            }  # fmt: skip
            load = subprocess.Popen(
                [sys.executable, "-m", "bench_lib.load"], stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, text=True, env=servers.child_env({}),
            )  # fmt: skip
            assert load.stdin is not None
            load.stdin.write(json.dumps(spec))
            load.stdin.close()
            samples = _sample(server.port, load)
    print(_lag_line(args, samples))


def _sample(port: int, load: subprocess.Popen[str]) -> list[tuple[float, int, int]]:
    """(time, ledger head, checkpointed leaves) every 20 ms until the load ends."""
    import httpx

    wanted = ("atp_ledger_notification_id ", "atp_audit_checkpointed_leaves ")
    samples = []
    with httpx.Client(base_url=f"http://127.0.0.1:{port}") as http:
        while load.poll() is None:
            lines = http.get("/metrics").text.splitlines()
            values = {ln.split()[0]: float(ln.split()[1]) for ln in lines if ln.startswith(wanted)}
            head = int(values["atp_ledger_notification_id"])
            samples.append(
                (time.perf_counter(), head, int(values["atp_audit_checkpointed_leaves"]))
            )
            time.sleep(0.02)
    return samples


def _lag_line(args: argparse.Namespace, samples: list[tuple[float, int, int]]) -> str:
    """For every 50th leaf: from the sample that first saw it committed to the first
    that saw a checkpoint over it."""
    lags, seen = [], 0
    for t, head, _ in samples:
        for leaf in range(seen - seen % 50 + 50 if seen else 0, head, 50):
            covered = next((s for s, _, signed in samples if signed > leaf), None)
            if covered is not None:
                lags.append(covered - t)
        seen = max(seen, head)
    return (
        f"checkpoint lag under 32 clients ({args.store}, interval {args.interval} s):"
        f" p50 {percentile(lags, 0.5) * 1000:.0f} ms, p99 {percentile(lags, 0.99) * 1000:.0f} ms"
        f" over {len(lags)} leaves"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--proofs", type=int, default=1000)
    parser.add_argument("--lag", action="store_true")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--interval", type=float, default=10.0)
    args = parser.parse_args()
    (lag if args.lag else scale)(args)


if __name__ == "__main__":
    main()
