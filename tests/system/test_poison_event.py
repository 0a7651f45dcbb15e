"""`atp serve` on a PostgreSQL ledger that holds events its views cannot apply.

Before the carrier starts, the test writes straight into the ledger (as an old ledger,
or a bug, would hold them): strings with a NUL character, which PostgreSQL's text
refuses, and an account whose name the views' store has been told to refuse (a CHECK
constraint: a stand-in for any event the views cannot store). The carrier must start,
answer, take writes, say in ``/ready`` and in one log line which event holds the views
(never its data), and move on by itself once the event applies.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
import trio

from atp.domain import aggregate_id
from atp.ledger import Bridge, Ledger, postgres_target
from atp.settings import Settings
from tests.support.helpers import text, write_straight
from tests.support.subprocess_server import ServerProcess, client, server_env

pytestmark = pytest.mark.slow

REFUSED = "Refused Name Q7"  # data: it must never reach the log
RECOVERY = 90.0  # the runner tries again after 1, 2, 4, ... s (at most 30 s apart)
POLL = 0.1


def views_sql(env: dict[str, str], sql: str) -> None:
    with psycopg.connect(postgres_target(env["ATP_DATABASE_URL"]).conninfo()) as conn:
        conn.execute(sql)


async def test_the_carrier_starts_and_serves_over_events_its_views_cannot_apply(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    env = server_env("postgres", tmp_path, request)
    settings = Settings(
        data_dir=tmp_path / "var", database_url=env["ATP_DATABASE_URL"],
        secret_key=env["ATP_SECRET_KEY"],
    )  # fmt: skip
    bridge = Bridge(1)
    ledger = await bridge.run(Ledger, settings, bridge)
    try:
        now = datetime.now(UTC)
        odd = await write_straight(ledger, "a\x00b", "c\x00d", now)
        poison = await write_straight(ledger, REFUSED, "poison", now)
    finally:
        ledger.close()
    refusal = f"CHECK (name <> '{REFUSED}')"
    views_sql(env, f"ALTER TABLE atp_accounts ADD CONSTRAINT atp_test_refuse {refusal}")

    async with ServerProcess(env, tmp_path) as server:
        await server.start(ready=503)
        async with client(server) as api:
            r = await api.client.get("/ready")
            assert r.json() == {
                "status": "error",
                "checks": {
                    "database": "error", "transport_runtime": "ok", "webhook_dispatcher": "ok",
                },
            }  # fmt: skip
            # The NUL strings were applied (as U+FFFD), and the carrier takes writes.
            r = await api.get(f"/api/agents/{odd.id}", odd.account_token)
            assert r.status_code == 200, r.text
            assert r.json()["display_name"] == "c\ufffdd"
            other = await api.agent(odd.account_token, "other")
            r = await api.send(odd, other, text())
            assert r.status_code == 201, r.text

            views_sql(env, "ALTER TABLE atp_accounts DROP CONSTRAINT atp_test_refuse")
            with trio.fail_after(RECOVERY):
                while True:
                    if (await api.client.get("/ready")).status_code == 200:
                        break
                    await trio.sleep(POLL)
            r = await api.get(f"/api/agents/{poison.id}", poison.account_token)
            assert r.status_code == 200, r.text
        log = server.log()
    stuck = [line for line in log.splitlines() if "the views cannot apply notification" in line]
    assert stuck, log
    assert "atp.domain._account:Account.Opened" in stuck[0]
    assert str(aggregate_id(poison.account_id)) in stuck[0]
    assert "no longer stuck" in log
    assert REFUSED not in log
    assert "Traceback" not in log
