"""``atp audit verify`` on both stores: an intact ledger verifies, and each tampering
the issue names fails, naming the first bad index."""

from __future__ import annotations

import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import attrs
import psycopg
import pytest

from atp.actors import Runtime
from atp.audit import AuditFollower, NoteSigner
from atp.ledger import postgres_target
from atp.projections import dump_views, rebuild
from atp.settings import Settings
from tests.audit.test_audit_api import newest_checkpoint, workload
from tests.audit.test_transfer import run_atp
from tests.support.helpers import Api, text


@attrs.frozen
class Ledger:
    """SQL on the test's ledger and its audit tables, whichever the store."""

    settings: Settings

    @contextmanager
    def connect(self) -> Iterator[Any]:
        if self.settings.database_url is None:
            conn = sqlite3.connect(self.settings.data_dir / "ledger.db", isolation_level=None)
            try:
                yield conn
            finally:
                conn.close()
        else:
            target = postgres_target(self.settings.database_url)
            with psycopg.connect(target.conninfo(), autocommit=True) as conn:
                yield conn

    @property
    def events(self) -> tuple[str, str]:
        """The events table and its notification id column."""
        return (
            ("stored_events", "rowid")
            if self.settings.database_url is None
            else ("atp_events", "notification_id")
        )

    def sql(self, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        mark = "?" if self.settings.database_url is None else "%s"
        with self.connect() as conn:
            cur = conn.execute(statement.replace("?", mark), params)
            return list(cur.fetchall()) if cur.description else []

    def views_sql(self, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        if self.settings.database_url is not None:  # the views share the database
            return self.sql(statement, params)
        conn = sqlite3.connect(self.settings.data_dir / "views.db", isolation_level=None)
        try:
            return list(conn.execute(statement, params).fetchall())
        finally:
            conn.close()

    def positions(self) -> list[int]:
        table, column = self.events
        return [int(r[0]) for r in self.sql(f"SELECT {column} FROM {table} ORDER BY {column}")]

    def index_of(self, position: int) -> int:
        rows = self.views_sql("SELECT idx FROM atp_audit_records WHERE position = ?", (position,))
        return int(rows[0][0])


def run_verify(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return run_atp(settings, "audit", "verify", *args, code=None)


@pytest.fixture
async def ledger(api: Api, runtime: Runtime, settings: Settings) -> Ledger:
    """A ledger with a mixed workload, wholly recorded and checkpointed."""
    await workload(api, 8)
    await newest_checkpoint(api, runtime)
    return Ledger(runtime.context.settings)


def fails_at(done: subprocess.CompletedProcess[str], index: int) -> None:
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"index {index}:" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


async def test_an_untouched_ledger_verifies(ledger: Ledger) -> None:
    done = run_verify(ledger.settings)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ok: "), done.stdout


async def test_an_altered_event_is_named(ledger: Ledger) -> None:
    table, column = ledger.events
    position = ledger.positions()[len(ledger.positions()) // 2]
    if ledger.settings.database_url is None:
        swap = "CAST(replace(CAST(state AS TEXT), '\"at\"', '\"at_\"') AS BLOB)"
    else:
        swap = "convert_to(replace(convert_from(state, 'UTF8'), '\"at\"', '\"at_\"'), 'UTF8')"
    ledger.sql(f"UPDATE {table} SET state = {swap} WHERE {column} = ?", (position,))
    fails_at(run_verify(ledger.settings), ledger.index_of(position))


async def test_an_event_removed_from_the_middle_is_named(ledger: Ledger) -> None:
    table, column = ledger.events
    position = ledger.positions()[len(ledger.positions()) // 2]
    ledger.sql(f"DELETE FROM {table} WHERE {column} = ?", (position,))
    fails_at(run_verify(ledger.settings), ledger.index_of(position))


async def test_two_swapped_events_are_named(ledger: Ledger) -> None:
    table, column = ledger.events
    positions = ledger.positions()
    first, second = positions[3], positions[-3]
    rows = {
        p: ledger.sql(f"SELECT topic, state FROM {table} WHERE {column} = ?", (p,))[0]
        for p in (first, second)
    }
    for here, there in ((first, second), (second, first)):
        ledger.sql(
            f"UPDATE {table} SET topic = ?, state = ? WHERE {column} = ?", (*rows[there], here)
        )
    fails_at(run_verify(ledger.settings), ledger.index_of(first))


async def test_the_newest_events_cut_off_are_caught_by_a_saved_checkpoint(
    ledger: Ledger, api: Api, tmp_path: Path
) -> None:
    saved = tmp_path / "checkpoint.txt"
    saved.write_text((await api.client.get("/api/audit/checkpoint")).text)
    table, column = ledger.events
    positions = ledger.positions()
    cut = positions[-10:]
    first_cut = ledger.index_of(cut[0])
    # The operator covers the tracks: the events, their records and the newer checkpoints.
    marks = ", ".join("?" * len(cut))
    ledger.sql(f"DELETE FROM {table} WHERE {column} IN ({marks})", tuple(cut))
    ledger.views_sql("DELETE FROM atp_audit_records WHERE idx >= ?", (first_cut,))
    ledger.views_sql("DELETE FROM atp_audit_checkpoints WHERE size > ?", (first_cut,))
    assert run_verify(ledger.settings).returncode == 0  # nothing left to tell, but:
    fails_at(run_verify(ledger.settings, "--checkpoint", str(saved)), first_cut)


async def test_checkpoints_signed_by_another_key_are_refused(ledger: Ledger) -> None:
    rows = ledger.views_sql("SELECT size, note FROM atp_audit_checkpoints ORDER BY size")
    origin = rows[0][1].split("\n", 1)[0]
    forger = NoteSigner(origin, b"\x07" * 32)
    for size, note in rows:
        text = note.partition("\n\n")[0] + "\n"  # the same tree head, another signature
        ledger.views_sql(
            "UPDATE atp_audit_checkpoints SET note = ? WHERE size = ?",
            (forger.sign(text), size),
        )
    done = run_verify(ledger.settings)
    fails_at(done, int(rows[0][0]))
    assert "not signed by a trusted key" in done.stderr


async def test_a_rebuilt_log_equals_the_live_one(ledger: Ledger, runtime: Runtime) -> None:
    writer = runtime.audit.writer
    assert isinstance(writer, AuditFollower)  # the follower inline, to rebuild it here

    def dump() -> dict[str, list[tuple[Any, ...]]]:
        return dump_views(writer.runner)

    live = await runtime.audit.read(dump)
    checkpoints = ledger.views_sql("SELECT size, note FROM atp_audit_checkpoints ORDER BY size")
    await rebuild(writer.runner)
    assert await runtime.audit.read(dump) == live
    after = ledger.views_sql("SELECT size, note FROM atp_audit_checkpoints ORDER BY size")
    assert after[: len(checkpoints)] == checkpoints  # kept, and matched by verify:
    assert run_verify(ledger.settings).returncode == 0


async def proven_after_restart(api: Api) -> None:
    """Every leaf is proven in a checkpoint signed after the restart, by the tests' own
    verifier, once one covers the whole log."""
    import base64

    import trio

    from tests.support.notes import open_checkpoint
    from tests.support.rfc9162 import verify_inclusion

    key = (await api.client.get("/api/audit/key")).json()["verifier_key"]
    proofs = "/api/audit/proofs/inclusion"
    with trio.fail_after(10):
        while True:  # until the newest checkpoint covers every leaf (none past its size)
            _, size, root = open_checkpoint(
                (await api.client.get("/api/audit/checkpoint")).text, key
            )
            past = await api.client.get(proofs, params={"index": 0, "size": size + 1})
            if past.status_code == 404:
                break
            await trio.sleep(0.05)
    for index in range(size):
        proof = (await api.client.get(proofs, params={"index": index, "size": size})).json()
        hashes = [base64.b64decode(h) for h in proof["hashes"]]
        assert verify_inclusion(index, size, base64.b64decode(proof["leaf_hash"]), hashes, root)


async def test_records_after_a_restart_name_what_the_first_events_said(
    settings: Settings, tmp_path: Path
) -> None:
    """After a restart the follower has forgotten every aggregate: a lease and an ACK
    of a message sent before it still name the message and its recipient."""
    import httpx
    import trio

    from atp.serve import open_runtime, serve_http

    async def run(step: Any) -> Any:
        async with open_runtime(settings) as runtime, trio.open_nursery() as nursery:
            shutdown = trio.Event()
            binds = await nursery.start(serve_http, runtime, shutdown)
            async with httpx.AsyncClient(base_url=binds[0], timeout=30) as client:
                result = await step(Api(client))
                await runtime.audit.wait_current()
            shutdown.set()
        return result

    async def send(api: Api) -> tuple[Any, Any, str, str]:
        alpha, beta = await api.pair()
        message = (await api.send(alpha, beta)).json()["message"]["id"]
        body = {"to": beta.address, "payload": text("s-1")}
        opened = await api.post("/api/sessions", alpha.token, body)
        return alpha, beta, message, opened.json()["session"]["id"]

    alpha, beta, message, session = await run(send)

    async def claim_ack_and_accept(api: Api) -> list[dict[str, Any]]:
        claim = (await api.claim(beta)).json()
        assert (await api.ack(beta, claim["id"], "completed")).status_code == 201
        accepted = await api.post(f"/api/sessions/{session}/accept", beta.token)
        assert accepted.status_code == 201, accepted.text
        await proven_after_restart(api)
        r = await api.get(f"/api/messages/{message}/history", alpha.token)
        answer = await api.client.get(
            "/api/events", params={"session": session, "type": "session.accepted"},
            headers={"authorization": f"Bearer {alpha.token}"},
        )  # fmt: skip
        (accepted_record,) = [e["record"] for e in answer.json()["events"]]
        assert accepted_record["actor"] == beta.id  # the recipient's ACK answered it
        return [h["record"] for h in r.json()["history"]]

    records = await run(claim_ack_and_accept)
    assert [(r["type"], r["actor"], r["aggregate"]["id"]) for r in records] == [
        ("message.sent", alpha.id, message),
        ("delivery.leased", beta.id, message),
        ("ack.recorded", beta.id, message),
    ]
    assert run_verify(settings).returncode == 0
