"""The JSON-RPC binding: an agent sends to another through A2A, and the task follows
the recipient's claim and ACKs."""

from __future__ import annotations

import attrs
import pytest
import trio

from atp.settings import Settings
from tests.support.a2a import A2A, answer, text
from tests.support.helpers import Agent, Api


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return attrs.evolve(settings, a2a_blocking_wait=2.0)


async def a2a_pair(api: Api) -> tuple[A2A, Agent, Agent]:
    caller, tenant = await api.pair()
    return A2A(api.client, caller, tenant), caller, tenant


async def claim_and_ack(api: Api, agent: Agent, *statuses: str) -> dict:
    r = await api.claim(agent)
    assert r.status_code == 201, r.text
    claim = r.json()
    context = claim["message"]["payload"]["contextId"]
    for status in statuses:
        payload = answer(f"{status}!", context)
        acked = await api.ack(agent, claim["id"], status, payload)
        assert acked.status_code == 201, acked.text
    return claim


async def test_a_sent_message_is_a_submitted_task_until_the_recipient_acks(api: Api) -> None:
    a2a, _, tenant = await a2a_pair(api)
    task = await a2a.send(text("do it"), returnImmediately=True)
    assert task["id"].startswith("msg_")
    assert task["status"]["state"] == "TASK_STATE_SUBMITTED"
    assert task["contextId"].startswith("ctx_")
    assert task["history"][0]["parts"] == [{"text": "do it"}]

    claim = await claim_and_ack(api, tenant, "accepted")
    assert claim["message"]["id"] == task["id"]
    assert claim["message"]["payload"]["contextId"] == task["contextId"]
    assert (await a2a.task(task["id"]))["status"]["state"] == "TASK_STATE_WORKING"

    r = await api.ack(tenant, claim["id"], "completed", answer("done", task["contextId"]))
    assert r.status_code == 201, r.text
    done = await a2a.task(task["id"])
    assert done["status"]["state"] == "TASK_STATE_COMPLETED"
    assert done["status"]["message"]["parts"] == [{"text": "done"}]
    assert done["artifacts"][0]["parts"] == [{"text": "done"}]
    assert [m["role"] for m in done["history"]] == ["ROLE_USER", "ROLE_AGENT", "ROLE_AGENT"]
    assert "history" not in await a2a.task(task["id"], historyLength=0)


async def test_a_blocking_send_answers_once_the_recipient_completes(api: Api) -> None:
    a2a, _, tenant = await a2a_pair(api)
    answered: list[dict] = []

    async def send() -> None:
        answered.append(await a2a.send(text("wait for me")))

    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(send)
            r = await api.post("/api/inbox/claims", tenant.token, {"wait_seconds": 5})
            assert r.status_code == 201, r.text  # a long poll: answered once the send is in
            claim = r.json()
            context = claim["message"]["payload"]["contextId"]
            await api.ack(tenant, claim["id"], "accepted", answer("on it", context))
            await trio.sleep(0.1)
            assert not answered  # accepted is not an end
            await api.ack(tenant, claim["id"], "completed", answer("done", context))
    assert answered[0]["id"] == claim["message"]["id"]
    assert answered[0]["status"]["state"] == "TASK_STATE_COMPLETED"
    assert answered[0]["artifacts"][0]["parts"] == [{"text": "done"}]


async def test_a_blocking_send_answers_the_task_as_it_stands_after_the_wait(
    api: Api, settings: Settings
) -> None:
    a2a, _, _ = await a2a_pair(api)
    with trio.fail_after(settings.a2a_blocking_wait + 5):
        task = await a2a.send(text("nobody reads this"))
    assert task["status"]["state"] == "TASK_STATE_SUBMITTED"
