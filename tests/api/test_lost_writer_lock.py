"""While the writer lock is lost (its connection dropped, being taken again), the carrier
is as if its store were away: writes are refused with 503 before they reach an actor,
and /ready says so. Nothing crashes, and it all comes back with the lock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import trio

from atp.ledger import FileLock, Holder, LockState, Role
from atp.serve import open_runtime, serve_http
from atp.settings import Settings
from tests.support.helpers import Api

REFUSED = {"error": {"code": "store_unavailable", "message": "The request could not be completed."}}


@pytest.fixture
async def carrier(
    settings: Settings, tmp_path: Path, nursery: trio.Nursery
) -> AsyncIterator[tuple[Api, FileLock]]:
    # The lock's kind does not matter here (a file on both stores): what the runtime
    # does while it is not held does.
    with FileLock(tmp_path, Holder.mine(Role.SERVE)) as lock:
        async with open_runtime(settings, lock) as runtime:
            shutdown = trio.Event()
            binds = await nursery.start(serve_http, runtime, shutdown)
            async with httpx.AsyncClient(base_url=binds[0], timeout=30) as client:
                yield Api(client), lock
                assert runtime.supervisor.statistics().restarts == 0  # no crash loop
            shutdown.set()


async def test_a_lost_writer_lock_refuses_writes_and_is_not_ready_until_it_is_back(
    carrier: tuple[Api, FileLock],
) -> None:
    api, lock = carrier
    alpha, beta = await api.pair()
    assert (await api.send(alpha, beta)).status_code == 201

    lock._set_state(LockState.LOST)  # as its keeper does when the connection drops
    for _ in range(3):
        r = await api.send(alpha, beta, key="kept-key")
        assert r.status_code == 503 and r.json() == REFUSED, r.text
        assert r.headers["retry-after"] == "2"
    r = await api.client.get("/ready")
    assert r.status_code == 503 and r.json()["checks"]["database"] == "error"
    assert "atp_writer_lock_held 0.0" in (await api.client.get("/metrics")).text

    lock._set_state(LockState.HELD)
    assert (await api.send(alpha, beta, key="kept-key")).status_code == 201
    assert (await api.client.get("/ready")).status_code == 200
    assert "atp_writer_lock_held 1.0" in (await api.client.get("/metrics")).text
