"""PostgreSQL stops under load and comes back: the carrier survives, refuses fast, recovers.

The server runs on a cluster of this test's own (``tests/support/pg_cluster.py``), never the
shared one. Senders keep sending while PostgreSQL is stopped (``pg_ctl stop -m
immediate``: connections drop as in a crash) and started again. Every answer must come
within the client's timeout (the bound on a request's wait); a refused send is a 503
envelope with ``Retry-After``, after which the sender tries the same idempotency key
again, as a client should. In the end every key is in the ledger exactly once.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import attrs
import psycopg
import pytest
import trio

from atp.domain import aggregate_id
from tests.support.helpers import AUDIT_KEY, Agent, Api, text
from tests.support.pg_cluster import Cluster
from tests.support.subprocess_server import ServerProcess, client, free_port

pytestmark = pytest.mark.slow

SENDERS = 4
PAUSE = 0.02  # between one sender's sends: a few hundred messages in all, not thousands
OUTAGE = 6.0  # seconds PostgreSQL stays down
RECOVERY = 30.0  # the most the carrier may take to be ready again once it is back
POLL = 0.05
REFUSED = {"error": {"code": "store_unavailable", "message": "The request could not be completed."}}


@attrs.define
class Load:
    """Senders that each send with fresh keys and retry a refused key after Retry-After."""

    api: Api
    sender: Agent
    recipient: Agent
    sent: dict[str, str] = attrs.field(factory=dict)  # key -> message id (201)
    refused: dict[str, int] = attrs.field(factory=dict)  # key -> 503s it got
    running: bool = True
    accepted: trio.Event = attrs.field(factory=trio.Event)

    async def send_loop(self, name: str) -> None:
        n = 0
        while self.running:
            await self.send_until_accepted(f"{name}-{n}")
            n += 1
            await trio.sleep(PAUSE)

    async def send_until_accepted(self, key: str) -> None:
        while True:
            r = await self.api.send(self.sender, self.recipient, text(key, key), key=key)
            if r.status_code == 201:
                message_id = r.json()["message"]["id"]
                assert self.sent.setdefault(key, message_id) == message_id
                self.accepted.set()
                self.accepted = trio.Event()
                return
            assert r.status_code == 503, r.text
            assert r.json() == REFUSED
            self.refused[key] = self.refused.get(key, 0) + 1
            await trio.sleep(float(r.headers["retry-after"]))

    async def wait_accepted(self, count: int) -> None:
        while len(self.sent) < count:
            await self.accepted.wait()


async def ready_status(api: Api) -> tuple[int, dict[str, object]]:
    r = await api.client.get("/ready")
    return r.status_code, r.json()


def migrate(env: dict[str, str], workdir: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "atp", "migrate"],
        env=env, cwd=workdir, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


async def test_a_postgres_outage_under_load_is_survived_and_loses_nothing(
    own_postgres: Cluster, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATP_")}
    env |= {
        "ATP_DATABASE_URL": own_postgres.url(),
        "ATP_SECRET_KEY": "outage-test-secret-key",
        "ATP_AUDIT_SIGNING_KEY": AUDIT_KEY,
        "ATP_PORT": str(free_port()),
        "ATP_BIND": "127.0.0.1",
        "ATP_DATA_DIR": str(tmp_path / "var"),
    }
    migrate(env, tmp_path)
    async with ServerProcess(env, tmp_path) as server, client(server) as api:
        await server.start()
        assert server.process is not None
        alpha, beta = await api.pair()
        load = Load(api, alpha, beta)
        async with trio.open_nursery() as senders:
            for i in range(SENDERS):
                senders.start_soon(load.send_loop, f"s{i}")
            with trio.fail_after(RECOVERY):
                await load.wait_accepted(20)
            before = len(load.sent)

            await trio.to_thread.run_sync(own_postgres.stop)
            # /ready answers within its check's bound (the client's timeout is the limit).
            status, body = await ready_status(api)
            assert status == 503, body
            assert body == {
                "status": "error",
                "checks": {
                    "database": "error",
                    "transport_runtime": "ok",
                    "webhook_dispatcher": "ok",
                },
            }
            # A read is refused as the sends are: 503 with Retry-After, not 500.
            r = await api.status(alpha.token, next(iter(load.sent.values())))
            assert r.status_code == 503, r.text
            assert r.headers["retry-after"] == "2"
            with trio.move_on_after(OUTAGE):
                await trio.sleep_forever()
            assert load.refused, "no send was refused while PostgreSQL was down"
            assert server.process.poll() is None, server.log()
            await trio.to_thread.run_sync(own_postgres.start)
            with trio.fail_after(RECOVERY):
                while True:
                    if (await ready_status(api))[0] == 200:
                        break
                    await trio.sleep(POLL)
                await load.wait_accepted(len(load.sent) + 20)  # sends succeed again
            load.running = False
        assert len(load.sent) > before
        assert server.process.poll() is None, server.log()

        # Every key refused with 503 was tried again until accepted: each is in the
        # ledger once, and nothing else is; the views have caught up with all of them.
        last = list(load.sent.values())[-1]
        r = await api.status(alpha.token, last)
        assert r.status_code == 200, r.text
        log = server.log()
    assert "Traceback" not in log, log
    # One line when it went, one when it came back; none per request or per actor.
    assert log.count("the store is away") == 1, log
    assert log.count("the store is back") == 1, log
    with psycopg.connect(own_postgres.url()) as conn:
        rows = conn.execute(
            "SELECT originator_id, count(*) FROM atp_events WHERE topic = %s GROUP BY 1",
            ("atp.domain._message:Message.Sent",),
        ).fetchall()
        viewed = conn.execute("SELECT id FROM atp_messages").fetchall()
    stored = {row[0]: row[1] for row in rows}
    assert all(count == 1 for count in stored.values())
    assert set(stored) == {aggregate_id(m) for m in load.sent.values()}
    assert {row[0] for row in viewed} == set(load.sent.values())
