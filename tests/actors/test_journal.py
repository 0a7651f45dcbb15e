"""The journal writer: group commit, conflict isolation, snapshots of long-lived aggregates."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import trio

from atp.actors import JournalWriter, Runtime
from atp.domain import Agent, IdempotencyRecord
from atp.ledger import FileLock, Holder, LedgerConflict, LedgerNotHeld, Role

NOW = datetime(2026, 5, 27, tzinfo=UTC)


def record(scope: str) -> IdempotencyRecord:
    return IdempotencyRecord(scope=scope, request_hash="h", status=201, sealed_body="x", at=NOW)


async def test_concurrent_commits_share_transactions(runtime: Runtime) -> None:
    before = runtime.context.journal.statistics()
    async with trio.open_nursery() as nursery:
        for n in range(64):
            nursery.start_soon(runtime.context.journal.commit, [record(f"group-{n}")])
    after = runtime.context.journal.statistics()
    assert after.events - before.events == 64
    assert after.commits - before.commits < 64
    assert after.largest_batch > 1


async def test_a_conflict_fails_only_its_own_request(runtime: Runtime) -> None:
    await runtime.context.journal.commit([record("taken")])
    outcomes: dict[str, object] = {}

    async def commit(name: str, scope: str) -> None:
        try:
            outcomes[name] = await runtime.context.journal.commit([record(scope)])
        except LedgerConflict as exc:
            outcomes[name] = exc

    async with trio.open_nursery() as nursery:
        nursery.start_soon(commit, "duplicate", "taken")
        nursery.start_soon(commit, "fresh", "fresh")
    assert isinstance(outcomes["duplicate"], LedgerConflict)
    assert isinstance(outcomes["fresh"], int)
    stored = await runtime.ledger.get_many(IdempotencyRecord, [record("fresh").id])
    assert list(stored) == [record("fresh").id]


@pytest.mark.parametrize("store", ["sqlite"], indirect=True)
async def test_long_lived_aggregates_are_snapshotted(runtime: Runtime) -> None:
    agent = Agent(
        agent_id="agt_snap", account_id="acct_snap", display_name=None, description=None,
        key_id="agtkey_0", key_hash="h0", at=NOW,
    )  # fmt: skip
    for n in range(1, 131):
        agent.rotate_key(f"agtkey_{n}", f"h{n}", NOW)
        if n % 40 == 0:
            await runtime.context.journal.commit([agent])
    await runtime.context.journal.commit([agent])
    snapshots = runtime.ledger.app.snapshots
    assert snapshots is not None
    # Taken at the first commit that crossed version 100 (it stored versions 82..121).
    [snapshot] = list(snapshots.get(agent.id, desc=True, limit=1))
    assert snapshot.originator_version == 121
    loaded = await runtime.ledger.get(Agent, agent.id)
    assert loaded is not None
    assert (loaded.version, loaded.active_key_id) == (131, "agtkey_130")


async def test_a_large_commit_gets_consecutive_notification_ids_in_event_order(
    runtime: Runtime,
) -> None:
    """More events than one multi-row INSERT takes (SQLite): the ids the commit reports
    are the ids stored, one after the other, in the order the events were given."""
    before = runtime.ledger.last_committed
    records = [record(f"bulk-{n}") for n in range(600)]
    position = await runtime.context.journal.commit(records)
    assert position == before + 600 == runtime.ledger.last_committed
    recorder = runtime.ledger.app.recorder
    rows = await runtime.ledger.bridge.run(lambda: recorder.select_notifications(before + 1, 1000))
    assert [row.id for row in rows] == list(range(before + 1, before + 601))
    assert [row.originator_id for row in rows] == [r.id for r in records]


@pytest.mark.parametrize("size", [10, 300])
async def test_a_conflict_inside_a_commit_stores_none_of_it(runtime: Runtime, size: int) -> None:
    """Either way SQLite takes a commit: one statement alone (10 events) or several in
    a transaction (300)."""
    await runtime.context.journal.commit([record("bulk-taken")])
    before = runtime.ledger.last_committed
    records = [record(f"bulk-new-{n}") for n in range(size)] + [record("bulk-taken")]
    with pytest.raises(LedgerConflict):
        await runtime.context.journal.commit(records)
    assert runtime.ledger.last_committed == before
    assert await runtime.ledger.get_many(IdempotencyRecord, [records[0].id]) == {}


async def test_get_many_reads_whole_aggregates_and_leaves_out_absent_ones(
    runtime: Runtime,
) -> None:
    """One read for many ids: each aggregate is folded from all its events, in order,
    and the events of one never leak into another."""
    agents = [
        Agent(
            agent_id=f"agt_many{n}", account_id="acct_many", display_name=None,
            description=None, key_id="agtkey_0", key_hash=f"h{n}_0", at=NOW,
        )
        for n in range(3)
    ]  # fmt: skip
    for n, agent in enumerate(agents):
        for k in range(1, n + 3):  # key hashes are unique, as the agents view requires
            agent.rotate_key(f"agtkey_{n}_{k}", f"h{n}_{k}", NOW)
    records = [record(f"many-{n}") for n in range(5)]
    await runtime.context.journal.commit([*agents, *records])
    absent = record("never-stored").id
    wanted = [agents[2].id, absent, records[3].id, agents[0].id, agents[2].id]
    loaded = await runtime.ledger.get_many(Agent, wanted)
    assert set(loaded) == {agents[0].id, agents[2].id}
    assert [(a.version, a.active_key_id) for a in (loaded[agents[0].id], loaded[agents[2].id])] == [
        (3, "agtkey_0_2"),
        (5, "agtkey_2_4"),
    ]
    stored = await runtime.ledger.get_many(IdempotencyRecord, wanted)
    assert list(stored) == [records[3].id]
    assert stored[records[3].id].scope == "many-3"


async def test_commits_stay_in_memory_until_the_projections_applied_them(
    runtime: Runtime,
) -> None:
    """The runner takes a page from memory only if every id in it was committed here
    and not yet applied."""
    before = runtime.ledger.last_committed
    agent = Agent(
        agent_id="agt_tail", account_id="acct_tail", display_name=None, description=None,
        key_id="agtkey_0", key_hash="h0", at=NOW,
    )  # fmt: skip
    agent.rotate_key("agtkey_1", "h1", NOW)
    kinds = frozenset({Agent.Registered, Agent.KeyRotated})
    async with runtime.projections.applying():  # the runner waits meanwhile
        top = await runtime.context.journal.commit([agent, record("tail")])
        assert top == before + 3
        recent = runtime.ledger.recent(before + 1, top, kinds)
        assert recent is not None
        assert [(p, type(e)) for p, e in recent] == [
            (before + 1, Agent.Registered),
            (before + 2, Agent.KeyRotated),
        ]  # the idempotency record is not of these kinds
        assert runtime.ledger.recent(before + 1, top + 1, kinds) is None  # not committed yet
    await runtime.projections.wait_current()
    assert runtime.ledger.recent(top, top, kinds) is None  # applied: forgotten
    rows = runtime.projections.store.query(
        "SELECT active_key_id FROM atp_agents WHERE id = ?", ("agt_tail",)
    )
    assert rows == [("agtkey_1",)]


async def test_nothing_is_committed_while_the_writer_lock_is_not_held(
    runtime: Runtime, tmp_path: Path
) -> None:
    lock = FileLock(tmp_path, Holder.mine(Role.SERVE))  # not taken yet: not held
    journal = JournalWriter(runtime.ledger, writer=lock)
    before = runtime.ledger.last_committed
    async with trio.open_nursery() as nursery:
        await nursery.start(journal.run)
        with pytest.raises(LedgerNotHeld):
            await journal.commit([record("unheld")])
        assert runtime.ledger.last_committed == before
        assert await runtime.ledger.get_many(IdempotencyRecord, [record("unheld").id]) == {}
        with lock:
            assert await journal.commit([record("held")]) > before
        nursery.cancel_scope.cancel()
