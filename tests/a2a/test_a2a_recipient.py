"""A recipient that is an A2A server (endpoint kind ``a2a``, the official a2a-sdk
server in its own process): ATP calls its SendMessage, records its answer as the ACK,
and retries while it is down, so two A2A agents talk through ATP with one offline."""

from __future__ import annotations

import json
from pathlib import Path

import attrs
import pytest
import trio

from atp.settings import Settings
from tests.support.a2a import A2A, recipient, served, text, until
from tests.support.helpers import Agent, Api
from tests.support.subprocess_server import free_port


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return attrs.evolve(
        settings,
        webhook_allow_private=True,  # the recipient listens on loopback
        webhook_retry_delays=(0, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3),
        webhook_max_attempts={"free": 8},
        a2a_blocking_wait=10.0,
    )


async def a2a_endpoint(api: Api, agent: Agent, port: int) -> dict:
    endpoint = await api.webhook_endpoint(agent, f"http://127.0.0.1:{port}/", kind="a2a")
    assert endpoint["kind"] == "a2a"
    return endpoint


async def test_the_recipients_answer_is_the_ack_and_the_callers_task(
    api: Api, tmp_path: Path
) -> None:
    caller, tenant = await api.pair()
    port, log = free_port(), tmp_path / "received.jsonl"
    await a2a_endpoint(api, tenant, port)
    with recipient(port, log):
        with trio.fail_after(15):
            task = await A2A(api.client, caller, tenant).send(text("ping"))
    assert task["status"]["state"] == "TASK_STATE_COMPLETED"
    assert task["artifacts"][0]["parts"] == [{"text": "echo: ping"}]
    [received] = [json.loads(line) for line in log.read_text().splitlines()]
    assert received["parts"] == [{"text": "ping"}]
    assert received["contextId"] == task["contextId"]
    status = (await api.status(caller.token, task["id"])).json()
    assert (status["carrier_status"], status["ack_status"]) == ("delivered", "completed")
    [delivery] = status["deliveries"]
    assert (delivery["mode"], delivery["status"]) == ("webhook", "delivered")


async def test_a_recipient_offline_for_a_while_gets_it_when_back(api: Api, tmp_path: Path) -> None:
    caller, tenant = await api.pair()
    port, log = free_port(), tmp_path / "received.jsonl"
    await a2a_endpoint(api, tenant, port)
    a2a = A2A(api.client, caller, tenant)
    task = await a2a.send(text("are you there?"), returnImmediately=True)

    async def tried_twice() -> bool:
        status = (await api.status(caller.token, task["id"])).json()
        return len(status["deliveries"][0]["attempts"]) >= 2

    await until(tried_twice)
    assert (await a2a.task(task["id"]))["status"]["state"] == "TASK_STATE_SUBMITTED"
    with recipient(port, log, "--refuse", "1"):  # back, and busy at first (503)
        await until(lambda: a2a.state_is(task["id"], "TASK_STATE_COMPLETED"))
    attempts = (await api.status(caller.token, task["id"])).json()["deliveries"][0]["attempts"]
    outcomes = [a["response_status"] for a in attempts]
    assert outcomes[-2:] == [503, 200]
    assert outcomes[0] is None  # nobody listened (connect_error)
    assert len(log.read_text().splitlines()) == 1  # delivered once


async def test_a_task_still_working_is_an_accepted_ack(api: Api, tmp_path: Path) -> None:
    caller, tenant = await api.pair()
    port, log = free_port(), tmp_path / "received.jsonl"
    await a2a_endpoint(api, tenant, port)
    a2a = A2A(api.client, caller, tenant)
    with recipient(port, log, "--working"):
        task = await a2a.send(text("long job"), returnImmediately=True)
        await until(lambda: a2a.state_is(task["id"], "TASK_STATE_WORKING"))
    working = await a2a.task(task["id"])
    assert working["status"]["state"] == "TASK_STATE_WORKING"
    assert working["status"]["message"]["taskId"]  # the recipient's task, to follow


async def test_a_task_the_recipient_ends_later_is_followed_to_its_end(
    api: Api, tmp_path: Path
) -> None:
    caller, tenant = await api.pair()
    port, log = free_port(), tmp_path / "received.jsonl"
    await a2a_endpoint(api, tenant, port)
    a2a = A2A(api.client, caller, tenant)
    with recipient(port, log, "--working", "--finish-after", "1"):
        task = await a2a.send(text("long job"), returnImmediately=True)
        await until(lambda: a2a.state_is(task["id"], "TASK_STATE_WORKING"))
        await until(lambda: a2a.state_is(task["id"], "TASK_STATE_COMPLETED"))
    done = await a2a.task(task["id"])
    assert done["artifacts"][0]["parts"] == [{"text": "done: long job"}]
    status = (await api.status(caller.token, task["id"])).json()
    assert status["ack_status"] == "completed"
    # Its history: the message, the recipient's "working", then its end.
    assert [m["role"] for m in done["history"]] == ["ROLE_USER", "ROLE_AGENT", "ROLE_AGENT"]
    assert len(log.read_text().splitlines()) == 1  # sent once, then only asked
    calls = log.with_name(log.name + ".calls").read_text().split()
    assert len(calls) >= 2 and len(set(calls)) == len(calls)  # no ask looks like a retry


async def test_following_goes_on_after_a_restart(settings: Settings, tmp_path: Path) -> None:
    port, log = free_port(), tmp_path / "received.jsonl"
    with recipient(port, log, "--working", "--finish-after", "2"):
        async with served(settings) as api:
            caller, tenant = await api.pair()
            await a2a_endpoint(api, tenant, port)
            a2a = A2A(api.client, caller, tenant)
            task = await a2a.send(text("long job"), returnImmediately=True)
            await until(lambda: a2a.state_is(task["id"], "TASK_STATE_WORKING"))
        async with served(settings) as api:
            a2a = A2A(api.client, caller, tenant)
            await until(lambda: a2a.state_is(task["id"], "TASK_STATE_COMPLETED"))
