"""Restarts never break a session: sequences go on, streams resume, pending ones expire.

The first test restarts a real ``atp serve`` subprocess (SIGTERM, then start again)
and resumes the stream from its ``Last-Event-ID``. The second restarts a carrier on
Trio's mock clock, to show that a pending session still fails exactly when its
opening expires, although nothing of it was running after the restart.
"""

from __future__ import annotations

import signal
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import trio
from trio.testing import MockClock

from atp.settings import Settings
from tests.api.test_session_stream import events, summary
from tests.api.test_sessions import answer, open_session, opened, turn
from tests.support.mock_clock import EPOCH, open_carrier
from tests.support.subprocess_server import ServerProcess, client, server_env

pytestmark = pytest.mark.slow


async def test_sequences_and_the_stream_survive_a_restart(
    store: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    env = server_env(store, tmp_path, request)
    async with ServerProcess(env, tmp_path) as server:
        await server.start()
        async with client(server) as api:
            alpha, beta, session_id = await opened(api)
            await turn(api, beta, session_id)
            seen = await events(api, alpha.token, session_id, count=3)
            assert summary(seen) == [("1", "message", 1), ("2", "status", "open"),
                                     ("3", "message", 2)]  # fmt: skip
        code, _ = await server.stop(signal.SIGTERM, within=10)
        assert code == 0

        await server.start()
        async with client(server) as api:
            r = await turn(api, alpha, session_id)
            assert r.json()["message_status"]["message"]["session_sequence"] == 3
            assert (await answer(api, beta, session_id, "close")).status_code == 200
            rest = await events(api, alpha.token, session_id, last_event_id=seen[-1][0])
            assert summary(rest) == [("4", "message", 3), ("5", "status", "closed")]


async def test_a_pending_session_expires_on_time_across_a_restart(
    tmp_path: Path, clock: MockClock
) -> None:
    # A daily sweep keeps the mock clock's jumps few; it wakes the session actor within
    # two sweeps of its deadline, and the actor's own timer fires on time.
    settings = Settings(data_dir=tmp_path / "var", port=0, sweep_interval=86400)
    async with open_carrier(settings) as (api, _):
        alpha, beta = await api.pair()
        session = (await open_session(api, alpha, beta))["session"]
    await trio.sleep(3600)  # down for an hour

    async with open_carrier(settings) as (api, _):
        await trio.sleep(7 * 86400 - 3600 - 120)  # two minutes before the opening expires
        shown = (await api.get(f"/api/sessions/{session['id']}", alpha.token)).json()
        assert shown["session"]["status"] == "pending"
        await trio.sleep(240)
        shown = (await api.get(f"/api/sessions/{session['id']}", alpha.token)).json()
    assert shown["session"]["status"] == "failed"
    expected = datetime.fromisoformat(session["created_at"]) + timedelta(days=7)
    failed_at = datetime.fromisoformat(shown["session"]["terminal_at"])
    assert abs((failed_at - expected).total_seconds()) < 1
    assert shown["messages"][0]["carrier_status"] == "expired"


async def test_a_pending_session_that_expired_while_down_fails_at_start(
    tmp_path: Path, clock: MockClock
) -> None:
    settings = Settings(data_dir=tmp_path / "var", port=0, sweep_interval=86400)
    async with open_carrier(settings) as (api, _):
        alpha, beta = await api.pair()
        session_id = (await open_session(api, alpha, beta))["session"]["id"]
    await trio.sleep(8 * 86400)  # down past the opening's expiry

    async with open_carrier(settings) as (api, _):
        restarted = EPOCH + timedelta(seconds=trio.current_time())
        await trio.sleep(1)
        shown = (await api.get(f"/api/sessions/{session_id}", alpha.token)).json()
    assert shown["session"]["status"] == "failed"
    failed_at = datetime.fromisoformat(shown["session"]["terminal_at"])
    assert abs((failed_at - restarted).total_seconds()) < 1  # at start, not a sweep later
