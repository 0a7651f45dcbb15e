"""Events in the ledger that the views cannot apply, on both stores.

Written straight into the ledger (bypassing the edge, as an old ledger or a bug would
have them): a NUL character, which PostgreSQL's text refuses, is stored in the views as
U+FFFD and never stops them; an event the views' store refuses (a rule added to it here)
leaves the views stuck on it (named in the log and by ``/ready``), while the carrier
serves and takes writes, until it applies. Time is Trio's mock clock: the runner's
retries back off by seconds.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import pytest
import trio

from atp.actors import MailboxActor, Runtime
from atp.settings import Settings
from tests.support import helpers
from tests.support.helpers import Agent as ApiAgent
from tests.support.helpers import text
from tests.support.mock_clock import EPOCH, open_carrier

REFUSED = "Refused Name Q7"  # what the views' store is told to refuse (it is data: never logged)
POLL = 0.1  # mock-clock seconds


def now() -> datetime:
    return EPOCH + timedelta(seconds=trio.current_time())


async def write_straight(runtime: Runtime, name: str, display_name: str) -> ApiAgent:
    """An account and its agent, saved to the ledger directly (no edge, no actor)."""
    return await helpers.write_straight(runtime.ledger, name, display_name, now())


async def test_a_nul_in_stored_strings_never_stops_the_views(
    settings: Settings, store: str, clock: object
) -> None:
    async with open_carrier(settings) as (api, runtime):
        odd = await write_straight(runtime, "a\x00b", "c\x00d")
        r = await api.get(f"/api/agents/{odd.id}", odd.account_token)
        assert r.status_code == 200, r.text
        stored = "c\ufffdd" if store == "postgres" else "c\x00d"  # PostgreSQL text has no NUL
        assert r.json()["display_name"] == stored
        assert runtime.projections.stuck is None
        assert (await api.client.get("/ready")).status_code == 200
        # Its account key authenticates (found in the views), and writes go on.
        other = await api.agent(odd.account_token, "other")
        assert (await api.send(odd, other, text())).status_code == 201


async def add_refusal(runtime: Runtime, store: str) -> None:
    """Make the views' store refuse an account named REFUSED (a stand-in for any event
    the views cannot store)."""
    if store == "postgres":
        sql = f"ALTER TABLE atp_accounts ADD CONSTRAINT atp_test_refuse CHECK (name <> '{REFUSED}')"
    else:
        sql = (
            "CREATE TRIGGER atp_test_refuse BEFORE INSERT ON atp_accounts"
            f" WHEN NEW.name = '{REFUSED}' BEGIN SELECT RAISE(ABORT, 'refused'); END"
        )
    await runtime.ledger.bridge.run(_execute, runtime, sql)


async def drop_refusal(runtime: Runtime, store: str) -> None:
    if store == "postgres":
        sql = "ALTER TABLE atp_accounts DROP CONSTRAINT atp_test_refuse"
    else:
        sql = "DROP TRIGGER atp_test_refuse"
    await runtime.ledger.bridge.run(_execute, runtime, sql)


def _execute(runtime: Runtime, sql: str) -> None:
    with runtime.context.queries.store.transaction() as cur:
        cur.execute(sql)


async def wait_until_stuck(runtime: Runtime, stuck: bool) -> None:
    with trio.fail_after(120):
        while True:
            if (runtime.projections.stuck is not None) == stuck:
                return
            await trio.sleep(POLL)


async def test_an_event_the_views_cannot_apply_is_named_and_retried_until_it_applies(
    settings: Settings, store: str, clock: object, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="atp")
    async with open_carrier(settings) as (api, runtime):
        alpha, beta = await api.pair()
        before = (await api.send(alpha, beta, text("m-1"))).json()["message"]["id"]
        await add_refusal(runtime, store)
        poison = await write_straight(runtime, REFUSED, "poison")
        after = (await api.send(alpha, beta, text("m-2"))).json()["message"]["id"]
        await wait_until_stuck(runtime, True)

        stuck = runtime.projections.stuck
        assert stuck is not None
        assert stuck.topic == "atp.domain._account:Account.Opened"
        assert runtime.projections.statistics().stuck_at == stuck.position
        logged = [r.getMessage() for r in caplog.records if r.name.startswith("atp.projections")]
        assert any(
            f"notification {stuck.position}" in line and stuck.topic in line
            and stuck.aggregate_id in line
            for line in logged
        ), logged  # fmt: skip
        assert REFUSED not in caplog.text
        r = await api.client.get("/ready")
        assert r.status_code == 503
        assert r.json()["checks"] == {
            "database": "error", "transport_runtime": "ok", "webhook_dispatcher": "ok",
        }  # fmt: skip

        # The carrier serves: sends are accepted, the live mailbox hands them out; reads
        # of the views stop before the stuck event (the later message is not there yet).
        third = await api.send(alpha, beta, text("m-3"))
        assert third.status_code == 201, third.text
        assert (await api.status(alpha.token, before)).status_code == 200
        assert (await api.status(alpha.token, after)).status_code == 404
        claim = await api.claim(beta, 60)
        assert claim.status_code == 201, claim.text

        await drop_refusal(runtime, store)
        await wait_until_stuck(runtime, False)
        assert (await api.client.get("/ready")).status_code == 200
        assert (await api.status(alpha.token, after)).status_code == 200
        assert (await api.get(f"/api/agents/{poison.id}", poison.account_token)).status_code == 200
        assert "no longer stuck" in caplog.text


async def test_a_runner_stuck_before_a_later_message_pages_it_in_once_it_moves_on(
    settings: Settings, store: str, clock: object
) -> None:
    """A mailbox that starts while the views are stuck cannot see messages sent after
    the stuck event in its inbox view: it keeps looking, and finds them once the views
    have moved on (it never concludes that there are none)."""
    async with open_carrier(settings) as (api, runtime):
        alpha, beta = await api.pair()
        await add_refusal(runtime, store)
        await write_straight(runtime, REFUSED, "poison")
        sent = (await api.send(alpha, beta, text("m-1"))).json()["message"]["id"]
        await wait_until_stuck(runtime, True)
        # Beta's mailbox stops (idle) and starts again while the views are stuck.
        with trio.fail_after(600):
            while True:
                if runtime.supervisor.running(MailboxActor, beta.id) is None:
                    break
                await trio.sleep(POLL)
        assert (await api.claim(beta, 60)).json() == {"delivery": None}
        await drop_refusal(runtime, store)
        await wait_until_stuck(runtime, False)
        claim = await api.claim(beta, 60)
        assert claim.status_code == 201, claim.text
        assert claim.json()["message"]["id"] == sent


def _lose_tail(runtime: Runtime, message_ids: list[str]) -> None:
    """What a crash of the database server does to the views' last commits (they do not
    wait for the disk): the pages that wrote these messages are gone, tracking included."""
    with runtime.context.queries.store.transaction() as cur:
        marks = ", ".join("?" * len(message_ids))
        cur.execute(f"SELECT min(position) FROM atp_messages WHERE id IN ({marks})", message_ids)
        first = int(cur.fetchone()[0])
        cur.execute(f"DELETE FROM atp_deliveries WHERE message_id IN ({marks})", message_ids)
        cur.execute(f"DELETE FROM atp_inbox WHERE message_id IN ({marks})", message_ids)
        cur.execute(f"DELETE FROM atp_messages WHERE id IN ({marks})", message_ids)
        cur.execute("UPDATE atp_tracking SET position = ?", (first - 1,))


async def test_views_whose_store_lost_its_last_commits_apply_them_again(
    settings: Settings, clock: object
) -> None:
    async with open_carrier(settings) as (api, runtime):
        alpha, beta = await api.pair()
        sent = [
            (await api.send(alpha, beta, text(f"m-{n}"))).json()["message"]["id"] for n in range(3)
        ]
        await runtime.projections.wait_current()
        await runtime.ledger.bridge.run(_lose_tail, runtime, sent[1:])
        # The next page finds tracking where the runner did not leave it, and goes back.
        sent.append((await api.send(alpha, beta, text("m-3"))).json()["message"]["id"])
        for message_id in sent:
            r = await api.status(alpha.token, message_id)
            assert r.status_code == 200, (message_id, r.text)
        assert runtime.projections.stuck is None
