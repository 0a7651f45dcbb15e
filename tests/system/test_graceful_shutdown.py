"""SIGTERM and SIGINT stop the real server gracefully: exit 0 within 5 s, nothing lost.

The 5 s bound is the issue's correctness requirement ("shut down gracefully within
5 s"), not a benchmark: a supervisor (systemd, Kubernetes) SIGKILLs a process that
ignores its stop signal for longer.
"""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import pytest

from tests.support.helpers import text
from tests.support.subprocess_server import ServerProcess, client, server_env

pytestmark = pytest.mark.slow

SHUTDOWN_BOUND = 5.0
MESSAGES = 5


@pytest.fixture
def env(store: str, tmp_path: Path, request: pytest.FixtureRequest) -> dict[str, str]:
    return server_env(store, tmp_path, request)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_stop_signal_exits_zero_within_bound_and_keeps_messages(
    sig: signal.Signals, env: dict[str, str], tmp_path: Path
) -> None:
    async with ServerProcess(env, tmp_path) as server:
        await server.start()
        sent: list[tuple[str, dict[str, Any]]] = []
        async with client(server) as api:
            alpha, beta = await api.pair()
            for i in range(MESSAGES):
                key = f"graceful-{i}"
                r = await api.send(alpha, beta, text(f"g-{i}"), key=key)
                assert r.status_code == 201, r.text
                sent.append((key, r.json()))
            for _, body in sent:
                r = await api.status(alpha.token, body["message"]["id"])
                assert r.status_code == 200, r.text

            # The client's keep-alive connection stays open, as a real client's would.
            code, elapsed = await server.stop(sig, within=SHUTDOWN_BOUND)
        assert code is not None, (
            f"still running {SHUTDOWN_BOUND} s after {sig.name}:\n{server.log()}"
        )
        assert code == 0, f"exit code {code} after {sig.name}:\n{server.log()}"
        assert elapsed < SHUTDOWN_BOUND
        assert "Traceback" not in server.log(), server.log()

        await server.start()
        async with client(server) as api:
            ids = [body["message"]["id"] for _, body in sent]
            for message_id in ids:
                r = await api.status(alpha.token, message_id)
                assert r.status_code == 200, (message_id, r.text)
                assert r.json()["carrier_status"] == "queued"
            claimed = []
            for _ in range(MESSAGES):
                r = await api.claim(beta, 60)
                assert r.status_code == 201, r.text
                claimed.append(r.json()["message"]["id"])
            assert claimed == ids
            r = await api.claim(beta, 60)
            assert (r.status_code, r.json()) == (200, {"delivery": None})
            key, body = sent[-1]
            r = await api.send(alpha, beta, text(f"g-{MESSAGES - 1}"), key=key)
            assert (r.status_code, r.json()) == (201, body)

        # The restarted server stops just as well, this time with no client connected.
        code, _ = await server.stop(sig, within=SHUTDOWN_BOUND)
        assert code == 0, f"exit code {code} after the second {sig.name}:\n{server.log()}"
