"""SIGKILL the server in the middle of a replay: after a restart it resumes where it was.

A replay of a time window runs at 4 messages a second against a real receiver; the
carrier is killed between two pushes and started again. The replay resumes from the
ledger (the sweep wakes its actor) and completes, and the receiver has seen each
message of the window exactly once in it, every push verified with the official
``standardwebhooks`` library.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import trio
from standardwebhooks import Webhook

from tests.support.helpers import text
from tests.support.receivers import open_receiver
from tests.support.subprocess_server import ServerProcess, client, server_env

pytestmark = pytest.mark.slow

MESSAGES = 8


async def test_a_replay_killed_midway_resumes_and_sends_each_message_once(
    store: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    env = server_env(store, tmp_path, request)
    env["ATP_WEBHOOK_ALLOW_PRIVATE"] = "1"
    async with open_receiver(patience=math.inf) as receiver, ServerProcess(env, tmp_path) as server:
        await server.start()
        async with client(server) as api:
            alpha, beta = await api.pair()
            endpoint = await api.webhook_endpoint(beta, receiver.url())
            ids = []
            for i in range(MESSAGES):
                sent = (await api.send(alpha, beta, text(f"m-{i}"))).json()
                ids.append(sent["message"]["id"])
            with trio.fail_after(20):
                await receiver.wait_for(MESSAGES)
            r = await api.post("/api/replays", beta.token, {"rate_per_second": 4})
            assert r.status_code == 202, r.text
            replay_id = r.json()["replay"]["id"]
            with trio.fail_after(20):
                await receiver.wait_for(MESSAGES + 3)
        await trio.sleep(0.1)  # between two pushes, 250 ms apart
        await server.kill()
        before_kill = len(receiver.requests) - MESSAGES

        await server.start()
        async with client(server) as api:
            replay = await api.replay_finished(beta.token, replay_id, within=30)
        await trio.sleep(0.5)

    assert 3 <= before_kill < MESSAGES  # the kill came in the middle
    assert (replay["state"], replay["done"], replay["delivered"]) == (
        "completed", MESSAGES, MESSAGES
    )  # fmt: skip
    replayed = receiver.requests[MESSAGES:]
    assert [json.loads(q.body)["message"]["id"] for q in replayed] == ids  # each once, in order
    originals = {
        json.loads(q.body)["message"]["id"]: q.headers["webhook-id"]
        for q in receiver.requests[:MESSAGES]
    }
    for again in replayed:
        Webhook(endpoint["endpoint_secret"]).verify(again.body, again.headers)
        message_id = json.loads(again.body)["message"]["id"]
        assert again.headers["webhook-id"] == originals[message_id]
        assert again.headers["atp-replay-id"] == replay_id
