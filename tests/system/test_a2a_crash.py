"""SIGKILL the carrier while it calls an A2A recipient: after a restart the delivery
completes once.

The call's claim was committed before it went out, so the restarted carrier waits for
that lease to end and calls again, with the same ``webhook-id``; the recipient's
answer becomes the message's one ACK, and the caller's task completes.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from tests.support.a2a import A2A, recipient, text, until
from tests.support.subprocess_server import ServerProcess, client, free_port, server_env

pytestmark = pytest.mark.slow


async def test_a_call_cut_by_a_crash_completes_once_after_restart(
    store: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    env = server_env(store, tmp_path, request)
    env["ATP_WEBHOOK_ALLOW_PRIVATE"] = "1"
    env["ATP_WEBHOOK_TIMEOUT"] = "1"  # calls end within 3 s; their lease is 6 s
    port, log = free_port(), tmp_path / "received.jsonl"
    calls = tmp_path / "received.jsonl.calls"
    async with ServerProcess(env, tmp_path) as server:
        with recipient(port, log, "--hang", "1"):  # the first call never answers
            await server.start()
            async with client(server) as api:
                alpha, beta = await api.pair()
                url = f"http://127.0.0.1:{port}/"
                await api.webhook_endpoint(beta, url, kind="a2a")
                task = await A2A(api.client, alpha, beta).send(text("ping"), returnImmediately=True)

                async def called() -> bool:
                    return calls.exists() and len(calls.read_text().split()) == 1

                await until(called)  # the call is in flight, hanging
            await server.kill()

            await server.start()
            async with client(server) as api:
                a2a = A2A(api.client, alpha, beta)
                await until(lambda: a2a.state_is(task["id"], "TASK_STATE_COMPLETED"), 30)
                status = (await api.status(alpha.token, task["id"])).json()
            await trio.sleep(1)
    first, second = calls.read_text().split()
    assert first == second  # one delivery, called twice
    assert len(log.read_text().splitlines()) == 1  # handled once
    (delivery,) = status["deliveries"]
    assert [(a["attempt_number"], a["result"]) for a in delivery["attempts"]] == [(1, "delivered")]
    assert status["ack_status"] == "completed"
