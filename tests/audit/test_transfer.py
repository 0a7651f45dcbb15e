"""``atp ledger export|import`` (SQLite to PostgreSQL) and ``atp audit export`` with
``atp audit verify --file``: what moves is the same on the other side, and a bad file
changes nothing."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest
import rfc8785
import trio

from atp.serve import open_runtime, serve_http
from atp.settings import Settings
from tests.audit.test_audit_api import newest_checkpoint
from tests.conftest import migrate
from tests.support.helpers import Api, as_stored, text
from tests.support.receivers import Receiver, Respond


def run_atp(
    settings: Settings, *args: str, code: int | None = 0
) -> subprocess.CompletedProcess[str]:
    """``atp`` on ``settings``' store; its exit status must be ``code`` (None: any)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATP_")}
    env["ATP_DATA_DIR"] = str(settings.data_dir)
    env["ATP_SECRET_KEY"] = settings.secret_key or ""
    env["ATP_AUDIT_SIGNING_KEY"] = settings.audit_signing_key or ""
    if settings.database_url is not None:
        env["ATP_DATABASE_URL"] = settings.database_url
    done = subprocess.run(
        [sys.executable, "-m", "atp", *args], env=env, capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip
    assert code is None or done.returncode == code, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    return done


_BASE_ONLY = """
import sys
SERVER = ("trio", "hypercorn", "quart", "quart_trio", "eventsourcing", "psycopg", "psycopg_pool")
class Blocked:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in SERVER:
            raise ImportError(f"{name} is not installed (the base install)")
sys.meta_path.insert(0, Blocked())
from atp.cli import main
sys.exit(main(sys.argv[1:]))
"""


def run_base_only(path: Path, key: str) -> subprocess.CompletedProcess[str]:
    """``atp audit verify --file`` where the server's packages cannot be imported."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATP_")}
    return subprocess.run(
        [sys.executable, "-c", _BASE_ONLY, "audit", "verify", "--file", str(path), "--key", key],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


@asynccontextmanager
async def carrier(settings: Settings) -> AsyncIterator[tuple[Api, Any]]:
    async with open_runtime(settings) as runtime, trio.open_nursery() as nursery:
        shutdown = trio.Event()
        binds = await nursery.start(serve_http, runtime, shutdown)
        async with httpx.AsyncClient(base_url=binds[0], timeout=30) as client:
            yield Api(client), runtime
        shutdown.set()


async def mixed_workload(api: Api, receiver: Receiver) -> dict[str, Any]:
    """Messages, claims and ACKs, a webhook delivery, a dead letter, a session."""
    account = await api.signup()
    alpha, beta = await api.agent(account, "alpha"), await api.agent(account, "beta")
    pushed = await api.agent(await api.signup(), "pushed")
    await api.put(
        f"/api/agents/{pushed.id}/sender_policies", pushed.token,
        {"effect": "allow", "sender_account_id": alpha.account_id},
    )  # fmt: skip
    receiver.script(Respond(200), Respond(404))
    await api.webhook_endpoint(pushed, receiver.url())
    sent = [(await api.send(alpha, beta, text(f"m-{i}", f"payload {i}"))).json() for i in range(4)]
    claim = (await api.claim(beta)).json()
    assert (await api.ack(beta, claim["id"], "completed")).status_code == 201
    webhook = (await api.send(alpha, pushed, text("w-1"))).json()["message"]["id"]
    await api.settled(pushed, webhook, "delivered")
    dead = (await api.send(alpha, pushed, text("w-2"))).json()["message"]["id"]
    await api.settled(pushed, dead, "failed")
    opened = await api.post("/api/sessions", alpha.token, {"to": beta.address, "payload": text()})
    session = opened.json()["session"]["id"]
    assert (await api.post(f"/api/sessions/{session}/accept", beta.token)).status_code == 201
    # Replays: one push again, one to the inbox (waiting for a claim), one cancelled.
    replays = [
        (await api.post(f"/api/messages/{webhook}/replay", pushed.token)).json()["replay"]["id"],
        (await api.post(f"/api/messages/{claim['message']['id']}/replay", beta.token,
                        {"target": "inbox"})).json()["replay"]["id"],
    ]  # fmt: skip
    for replay_id, agent in zip(replays, (pushed, beta), strict=True):
        await api.replay_finished(agent.token, replay_id)
    slow = await api.post("/api/replays", beta.token, {"target": "inbox", "rate_per_second": 0.01})
    replays.append(slow.json()["replay"]["id"])
    assert (await api.post(f"/api/replays/{replays[2]}/cancel", beta.token)).status_code == 200
    messages = [s["message"]["id"] for s in sent] + [webhook, dead]
    return {
        "alpha": alpha,
        "beta": beta,
        "pushed": pushed,
        "messages": messages,
        "session": session,
        "replays": list(zip(replays, (pushed, beta, beta), strict=True)),
    }


async def proof(api: Api, kind: str, **params: int) -> Any:
    r = await api.client.get(f"/api/audit/proofs/{kind}", params=params)
    assert r.status_code == 200, r.text
    return r.json()


async def answers(api: Api, world: dict[str, Any]) -> dict[str, Any]:
    """What the API says about everything of the workload."""
    alpha, pushed = world["alpha"], world["pushed"]
    found: dict[str, Any] = {}
    for message in world["messages"]:
        found[message] = as_stored((await api.status(alpha.token, message)).json())
        found[message + "/history"] = (
            await api.get(f"/api/messages/{message}/history", alpha.token)
        ).json()
    found["session"] = (await api.get(f"/api/sessions/{world['session']}", alpha.token)).json()
    agent = (await api.get(f"/api/agents/{pushed.id}", pushed.account_token)).json()
    found["agent"] = as_stored(agent)  # its card URL names the carrier, which moved
    found["dead"] = (await api.get("/api/dead_letters", pushed.token)).json()
    found["events"] = (await api.get("/api/events?limit=1000", alpha.account_token)).json()
    for replay, agent in world["replays"]:
        found[replay] = (await api.get(f"/api/replays/{replay}", agent.token)).json()
        assert "replay" in found[replay]
    return found


@pytest.mark.postgres
async def test_a_sqlite_ledger_moves_to_postgresql_unchanged(
    tmp_path: Path, postgres_url: str, receiver: Receiver
) -> None:
    source = Settings(
        data_dir=tmp_path / "sqlite", port=0, webhook_allow_private=True,
        audit_checkpoint_interval=0.2,
    ).with_secret_key().with_audit_signing_key()  # fmt: skip
    async with carrier(source) as (api, runtime):
        world = await mixed_workload(api, receiver)
        _, size, _, note = await newest_checkpoint(api, runtime)
        before = await answers(api, world)
        proofs = [await proof(api, "inclusion", index=i, size=size) for i in range(0, size, 7)]
        consistency = await proof(api, "consistency", **{"from": 3, "to": size})
    ledger_file = tmp_path / "ledger.jsonl"
    exported = run_atp(source, "ledger", "export", str(ledger_file))
    assert exported.stdout.startswith("exported ")

    target = attrs.evolve(
        source, data_dir=tmp_path / "pg", database_url=postgres_url, audit_origin=None
    )
    migrate(target)
    imported = run_atp(target, "ledger", "import", str(ledger_file))
    assert imported.stdout.startswith("imported ")
    again = run_atp(target, "ledger", "import", str(ledger_file), code=1)
    assert "not empty" in again.stderr

    async with carrier(target) as (api, runtime):
        await runtime.audit.wait_current()
        assert await answers(api, world) == before
        for kept in proofs:
            assert await proof(api, "inclusion", index=kept["index"], size=size) == kept
        assert await proof(api, "consistency", **{"from": 3, "to": size}) == consistency
        r = await api.client.get("/api/audit/checkpoint", params={"size": size})
        assert r.text == note
    assert run_atp(target, "audit", "verify").stdout.startswith("ok: ")


async def test_a_bad_or_cut_ledger_file_is_refused_and_changes_nothing(
    api: Api, runtime: Any, settings: Settings, tmp_path: Path
) -> None:
    alpha, beta = await api.pair()
    assert (await api.send(alpha, beta)).status_code == 201
    await runtime.audit.wait_current()
    good = tmp_path / "good.jsonl"
    run_atp(runtime.context.settings, "ledger", "export", str(good))
    assert good.stat().st_mode & 0o777 == 0o600  # payloads and sealed secrets inside
    lines = good.read_bytes().splitlines(keepends=True)
    cut = tmp_path / "cut.jsonl"
    cut.write_bytes(b"".join(lines[:-3]))
    changed = tmp_path / "changed.jsonl"
    changed.write_bytes(b"".join(lines).replace(b'"e":[1,', b'"e":[1 ,', 1))
    junk = tmp_path / "junk.jsonl"
    junk.write_bytes(b"not json\n")
    empty = Settings(data_dir=tmp_path / "empty", port=0)
    for bad, says in ((cut, "truncated"), (changed, "hash"), (junk, "line 1 is not JSON")):
        done = run_atp(empty, "ledger", "import", str(bad), code=1)
        assert says in done.stderr and "nothing was imported" in done.stderr, done.stderr
    # The target store is left as it was: empty, and a good file still imports.
    assert run_atp(empty, "ledger", "import", str(good)).stdout.startswith("imported ")


async def test_an_export_verifies_offline_and_tampering_is_named(
    api: Api, runtime: Any, settings: Settings, tmp_path: Path
) -> None:
    alpha, beta = await api.pair()
    for i in range(5):
        assert (await api.send(alpha, beta, text(f"m-{i}", f"p{i}"))).status_code == 201
    await newest_checkpoint(api, runtime)
    whole = tmp_path / "whole.jsonl"
    run_atp(runtime.context.settings, "audit", "export", "--out", str(whole), "--payloads")
    key = (await api.client.get("/api/audit/key")).json()["verifier_key"]
    ok = run_atp(runtime.context.settings, "audit", "verify", "--file", str(whole), "--key", key)
    assert ok.stdout.startswith("ok: ")
    # A third party with the base install only (no server packages) checks it too.
    blocked = run_base_only(whole, key)
    assert blocked.returncode == 0 and blocked.stdout.startswith("ok: "), blocked.stderr
    account = tmp_path / "account.jsonl"
    run_atp(
        runtime.context.settings,
        "audit",
        "export",
        "--out",
        str(account),
        "--account",
        alpha.account_id,
    )
    assert run_atp(
        runtime.context.settings, "audit", "verify", "--file", str(account)
    ).stdout.startswith("ok")

    lines = whole.read_text().splitlines()
    record_lines = [i for i, line in enumerate(lines) if line.startswith('{"record"')]
    victim = json.loads(lines[record_lines[2]])
    index = victim["record"]["index"]
    victim["record"]["record"]["actor"] = "carrier"
    lines[record_lines[2]] = json.dumps(victim, separators=(",", ":"), ensure_ascii=False)
    forged = tmp_path / "forged.jsonl"
    forged.write_text("\n".join(lines) + "\n")
    refused = run_atp(runtime.context.settings, "audit", "verify", "--file", str(forged), code=1)
    assert "hash does not match" in refused.stderr  # the file's own hash catches it first
    # Written again whole (a new end line), the record itself is caught, by its index;
    # a leaf hash made to match it is then caught by its proof.
    for leaf, says in ((victim["record"]["leaf_hash"], "does not hash"), (None, "does not reach")):
        if leaf is None:
            leaf_bytes = hashlib.sha256(b"\x00" + rfc8785.dumps(victim["record"]["record"]))
            victim["record"]["leaf_hash"] = base64.b64encode(leaf_bytes.digest()).decode()
            lines[record_lines[2]] = json.dumps(victim, separators=(",", ":"), ensure_ascii=False)
        rewritten = "".join(line + "\n" for line in lines[:-1]).encode()
        end = json.loads(lines[-1])["end"]
        end["sha256"] = hashlib.sha256(rewritten).hexdigest()
        forged.write_bytes(rewritten + json.dumps({"end": end}).encode() + b"\n")
        refused = run_atp(
            runtime.context.settings, "audit", "verify", "--file", str(forged), code=1
        )
        assert f"index {index}:" in refused.stderr and says in refused.stderr, refused.stderr
