"""SIGKILL the server during a webhook attempt: after a restart the delivery completes once.

The attempt's claim was committed before the request went out, so the restarted
carrier finds the delivery leased, waits for that lease to end (the attempt might
still have been running elsewhere) and tries again with the same attempt number.
The receiver sees the request twice with one ``webhook-id`` (at-least-once), and the
delivery records exactly one attempt: the one that finished.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import trio

from tests.support.receivers import Hang, Respond, open_receiver
from tests.support.subprocess_server import ServerProcess, client, server_env

pytestmark = pytest.mark.slow


async def test_a_delivery_interrupted_by_a_crash_completes_once_after_restart(
    store: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    env = server_env(store, tmp_path, request)
    env["ATP_WEBHOOK_ALLOW_PRIVATE"] = "1"
    env["ATP_WEBHOOK_TIMEOUT"] = "1"  # attempts end within 3 s; their lease is 6 s
    async with open_receiver(patience=math.inf) as receiver, ServerProcess(env, tmp_path) as server:
        receiver.script(Hang(), Respond(200))
        await server.start()
        async with client(server) as api:
            alpha, beta = await api.pair()
            await api.webhook_endpoint(beta, receiver.url())
            sent = (await api.send(alpha, beta)).json()
            with trio.fail_after(10):
                await receiver.wait_for(1)  # the attempt is in flight, hanging
        await server.kill()

        await server.start()
        with trio.fail_after(20):
            requests = await receiver.wait_for(2)
        assert requests[0].headers["webhook-id"] == requests[1].headers["webhook-id"]
        assert json.loads(requests[1].body)["message"]["id"] == sent["message"]["id"]
        async with client(server) as api:
            status = await api.settled(beta, sent["message"]["id"], "delivered")
        (delivery,) = status["deliveries"]
        assert [(a["attempt_number"], a["result"]) for a in delivery["attempts"]] == [
            (1, "delivered")
        ]
        await trio.sleep(1)
        assert len(receiver.requests) == 2
