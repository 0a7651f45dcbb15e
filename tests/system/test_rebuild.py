"""The views are derived data: replaying the ledger from zero rebuilds them row for row.

A mixed workload goes through the HTTP API (accounts, agents, sender policies, a
webhook endpoint, a key rotation, trusted/untrusted/blocked sends, claims with lease 0
and 60, an extension, ACKs of every status); dumping every view table before and after
``projections.rebuild`` must give the same rows. ``atp projections rebuild`` does the
same from the command line against a stopped carrier's store.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import Any

import attrs
import httpx
import trio

from atp.actors import Runtime
from atp.projections import (
    AgentsView,
    EnvelopesView,
    MessagesView,
    ReceiptsView,
    ReplaysView,
    SchemasView,
    SessionsView,
    WebhooksView,
    dump_views,
    open_view_store,
    rebuild,
)
from atp.serve import open_runtime, serve_http
from atp.settings import Settings
from tests.support.fake_dns import FakeDns
from tests.support.helpers import Agent, Api, as_stored, text

VIEW_TABLES = (
    AgentsView.tables
    + MessagesView.tables
    + SessionsView.tables
    + ReplaysView.tables
    + ReceiptsView.tables
    + EnvelopesView.tables
    + SchemasView.tables
    + WebhooksView.tables
)
REBUILT = re.compile(r"rebuilt read models up to notification (\d+)")


async def signup(api: Api, name: str) -> tuple[str, str]:
    """A new account: (account id, account token)."""
    r = await api.client.post("/api/accounts", json={"name": name})
    assert r.status_code == 201, r.text
    return r.json()["id"], r.json()["account_api_key"]["token"]


def ok(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


async def workload(api: Api) -> dict[str, Any]:
    """Everything the views record; returns a few of the ids it made."""
    _, acme = await signup(api, "Acme")
    a1, a2 = await api.agent(acme, "a1"), await api.agent(acme, "a2")
    _, globex = await signup(api, "Globex")
    b1, b2 = await api.agent(globex, "b1"), await api.agent(globex, "b2")
    initech_id, initech = await signup(api, "Initech")
    c1 = await api.agent(initech, "c1")

    async def policy(agent: Agent, **target: str) -> None:
        path = f"/api/agents/{agent.id}/sender_policies"
        ok(await api.put(path, agent.token, target), 200)

    await policy(a1, effect="block", sender_agent_id=b1.id)
    await policy(a2, effect="allow", sender_account_id=initech_id)
    await policy(a2, effect="block", sender_agent_id=b2.id)
    await policy(a2, effect="allow", sender_agent_id=b2.id)  # replaces the block
    hook = {"url": "https://example.com/hook"}
    ok(await api.put(f"/api/agents/{b2.id}/webhook_endpoint", b2.token, hook), 200)
    key = ok(await api.post(f"/api/agents/{a2.id}/keys", acme), 201)
    assert (await api.claim(a2)).status_code == 401  # the old key is revoked
    a2 = attrs.evolve(a2, token=key["token"])

    blocked = ok(await api.send(b1, a1, text("blocked")), 201)
    assert blocked["carrier_status"] == "rejected"
    untrusted = ok(await api.send(c1, a1, text("untrusted")), 201)
    assert untrusted["message"]["trust"] == "untrusted"
    allowed = ok(await api.send(c1, a2, text("allowed")), 201)
    assert allowed["message"]["trust"] == "trusted"
    webhook = ok(await api.send(b1, b2, text("webhook")), 201)
    assert [d["mode"] for d in webhook["deliveries"]] == ["webhook"]
    for i in range(6):
        ok(await api.send(a1, a2, text(f"team-{i}")), 201)
    ok(await api.send(b2, a2, text("allowed-agent")), 201)

    # a2's inbox: a lease of 0 ends at once, so the same message is handed out again.
    zero = ok(await api.claim(a2, 0), 201)
    again = ok(await api.claim(a2, 60), 201)
    assert again["message"]["id"] == zero["message"]["id"] and again["id"] != zero["id"]
    assert (await api.ack(a2, zero["id"], "completed")).status_code == 409  # lease ended
    claims = [ok(await api.claim(a2, 60), 201) for _ in range(5)]
    extended = await api.post(
        f"/api/deliveries/{claims[0]['id']}/extend", a2.token, {"lease_seconds": 30}
    )
    ok(extended, 200)
    reply = text("reply", "done")
    ok(await api.ack(a2, again["id"], "accepted"), 201)
    ok(await api.ack(a2, again["id"], "completed", reply), 201)
    ok(await api.ack(a2, claims[0]["id"], "completed"), 201)
    ok(await api.ack(a2, claims[1]["id"], "failed"), 201)
    ok(await api.ack(a2, claims[2]["id"], "rejected"), 201)
    ok(await api.ack(a2, claims[3]["id"], "accepted"), 201)
    # claims[4] stays leased; the rest of a2's inbox stays queued.
    mine = ok(await api.claim(a1, 60), 201)
    assert mine["message"]["id"] == untrusted["message"]["id"]  # the blocked one never shows
    ok(await api.ack(a1, mine["id"], "completed"), 201)
    # Replays: one to the inbox that waits for a claim, one cancelled while running.
    path = f"/api/messages/{mine['message']['id']}/replay"
    replay = ok(await api.post(path, a1.token, {"target": "inbox"}), 202)["replay"]["id"]
    slow = ok(
        await api.post("/api/replays", a2.token, {"target": "inbox", "rate_per_second": 0.01}), 202
    )
    ok(await api.post(f"/api/replays/{slow['replay']['id']}/cancel", a2.token), 200)
    await api.replay_finished(a1.token, replay)  # nothing may change the views unseen

    # Sessions: one accepted with a turn each way, one rejected, one closed while pending.
    async def session(to: Agent) -> str:
        body = {"to": to.address, "payload": text("session")}
        return str(ok(await api.post("/api/sessions", a1.token, body), 201)["session"]["id"])

    talk, refused, dropped = await session(a2), await session(a2), await session(a2)
    ok(await api.post(f"/api/sessions/{talk}/accept", a2.token), 201)
    for sender in (a2, a1):
        path = f"/api/sessions/{talk}/messages"
        ok(await api.post(path, sender.token, {"payload": text("turn")}), 201)
    ok(await api.post(f"/api/sessions/{refused}/reject", a2.token), 201)
    ok(await api.post(f"/api/sessions/{dropped}/close", a1.token), 200)

    # The webhook's first attempt has ended (the tests' ``dns`` fixture answers "no such
    # name" for example.com, so it never leaves the machine); the next is 30 s away, so
    # nothing changes the views behind the test's back.
    with trio.fail_after(20):
        while True:
            status = ok(await api.status(b2.token, webhook["message"]["id"]), 200)
            if status["deliveries"][0]["attempt_count"] == 1:
                break
            await trio.sleep(0.05)
    return {"blocked": blocked["message"]["id"], "a2": a2}


async def test_rebuild_reproduces_every_view(api: Api, runtime: Runtime, dns: FakeDns) -> None:
    made = await workload(api)
    projections = runtime.projections
    await projections.wait_current()
    live = await runtime.ledger.bridge.run(dump_views, projections)

    assert set(live) == set(VIEW_TABLES)
    counts = {table: len(rows) for table, rows in live.items()}
    assert counts["atp_accounts"] == 3 and counts["atp_agents"] == 5
    assert counts["atp_api_keys"] == 3 + 5 + 1  # account keys, agent keys, the rotated key
    assert counts["atp_sender_policies"] == 3
    assert counts["atp_messages"] == 11 + 5  # and 3 openings, 2 turns
    # 8 polling hand-outs (one had lease 0), 1 webhook, and 2 that carried session answers
    assert counts["atp_deliveries"] == 9 + 2
    # claims[4]'s message, 3 never claimed, 2 turns, and the closed session's opening
    assert counts["atp_inbox"] == 4 + 3
    assert column_of(live, "atp_sessions", 6) == ["closed", "open", "rejected"]
    store = projections.store

    def column(sql: str) -> list[Any]:
        return sorted(row[0] for row in store.query(sql))

    assert column("SELECT DISTINCT mode FROM atp_deliveries") == ["polling", "webhook"]
    assert column("SELECT DISTINCT ack_status FROM atp_messages WHERE ack_status IS NOT NULL") == [
        "accepted", "completed", "failed", "rejected",
    ]  # fmt: skip
    assert column("SELECT revoked FROM atp_api_keys WHERE revoked = 1") == [1]
    assert column("SELECT webhook_url FROM atp_agents WHERE webhook_url IS NOT NULL") == [
        "https://example.com/hook"
    ]

    position = await rebuild(projections)
    assert position == runtime.ledger.last_committed > 0
    rebuilt = await runtime.ledger.bridge.run(dump_views, projections)
    for table in VIEW_TABLES:
        assert rebuilt[table] == live[table], table

    # The carrier goes on serving from the rebuilt views.
    r = await api.status(made["a2"].token, made["blocked"])
    assert r.status_code == 404  # a2 is neither side of the blocked message
    a1, a2 = await api.pair()
    sent = ok(await api.send(a1, a2, text("after")), 201)
    status = ok(await api.status(a1.token, sent["message"]["id"]), 200)
    assert as_stored(status) == sent
    claimed = ok(await api.claim(a2), 201)
    assert claimed["message"]["id"] == sent["message"]["id"]


def column_of(dump: dict[str, list[tuple[Any, ...]]], table: str, index: int) -> list[Any]:
    return sorted(row[index] for row in dump[table])


def _dump_store(settings: Settings) -> tuple[dict[str, list[tuple[Any, ...]]], int]:
    """Every view row and the tracking position, read straight from a stopped carrier's store."""
    store = open_view_store(settings)
    try:
        dump = {t: sorted(store.query(f"SELECT * FROM {t}"), key=repr) for t in VIEW_TABLES}
        [(position,)] = store.query("SELECT position FROM atp_tracking WHERE view = 'views'")
        return dump, int(position)
    finally:
        store.close()


async def _run_workload(settings: Settings) -> None:
    """A carrier on ``settings`` with its HTTP API, through the workload, then stopped."""
    async with open_runtime(settings) as rt, trio.open_nursery() as nursery:
        shutdown = trio.Event()
        binds = await nursery.start(serve_http, rt, shutdown)
        async with httpx.AsyncClient(base_url=binds[0], timeout=30) as http:
            await workload(Api(http))
        await rt.projections.wait_current()
        shutdown.set()


async def _cli_rebuild(settings: Settings) -> tuple[int, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATP_")}
    env["ATP_DATA_DIR"] = str(settings.data_dir)
    if settings.database_url:
        env["ATP_DATABASE_URL"] = settings.database_url
        env["ATP_SECRET_KEY"] = settings.secret_key or ""
        env["ATP_AUDIT_SIGNING_KEY"] = settings.audit_signing_key or ""
    with trio.fail_after(60):
        done = await trio.run_process(
            [sys.executable, "-m", "atp", "projections", "rebuild"],
            env=env, capture_stdout=True, capture_stderr=True, check=False,
        )  # fmt: skip
    output = done.stdout.decode() + done.stderr.decode()
    match = REBUILT.search(done.stdout.decode())
    assert done.returncode == 0 and match, output
    return int(match.group(1)), output


async def test_cli_rebuild_of_a_stopped_carrier(settings: Settings, dns: FakeDns) -> None:
    await _run_workload(settings)
    before, position = await trio.to_thread.run_sync(_dump_store, settings)
    assert position > 0 and len(before["atp_messages"]) == 16

    printed, _ = await _cli_rebuild(settings)
    assert printed == position
    after, tracked = await trio.to_thread.run_sync(_dump_store, settings)
    assert tracked == position
    for table in VIEW_TABLES:
        assert after[table] == before[table], table


def _lose_views(data_dir: Path) -> None:
    for name in ("views.db", "views.db-wal", "views.db-shm"):
        (data_dir / name).unlink(missing_ok=True)


async def test_cli_rebuild_restores_lost_views(tmp_path: Path, dns: FakeDns) -> None:
    """The embedded store's views.db is gone (derived data); the ledger alone rebuilds it."""
    settings = Settings(data_dir=tmp_path / "var", port=0)
    await _run_workload(settings)
    before, position = await trio.to_thread.run_sync(_dump_store, settings)
    await trio.to_thread.run_sync(_lose_views, settings.data_dir)

    printed, output = await _cli_rebuild(settings)
    assert printed == position, output
    after, _ = await trio.to_thread.run_sync(_dump_store, settings)
    for table in VIEW_TABLES:
        assert after[table] == before[table], table
