"""A2A push-notification configs: delivery receipts to the sender on each change of its
task's state, signed, retried, recorded in the ledger; and the configs' CRUD, which only
the task's sender sees."""

from __future__ import annotations

import json
from typing import Any

import attrs
import pytest
import trio

from atp.settings import Settings
from atp.webhooks import verify_standard
from tests.support.a2a import A2A, answer, served, text, until
from tests.support.helpers import Agent, Api
from tests.support.receivers import ReceivedRequest, Receiver, Respond

WORKING, COMPLETED = "TASK_STATE_WORKING", "TASK_STATE_COMPLETED"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return attrs.evolve(
        settings,
        webhook_allow_private=True,  # the receiver listens on loopback
        webhook_retry_delays=(0, 0.2, 0.2, 0.2),
        webhook_max_attempts={"free": 4},
    )


def config(receiver: Receiver, **extra: Any) -> dict[str, Any]:
    return {"url": receiver.url("/receipts"), **extra}


async def public_keys(api: Api, agent: Agent) -> list[str]:
    r = await api.client.get(
        f"/api/agents/{agent.id}/webhook_endpoint/signing_keys",
        headers={"authorization": f"Bearer {agent.token}"},
    )
    assert r.status_code == 200, r.text
    return [key["public_key"] for key in r.json()["signing_keys"]]


def verified(request: ReceivedRequest, keys: list[str]) -> dict[str, Any]:
    """The receipt's StreamResponse, once its v1a signature checks with one of ``keys``."""
    errors = []
    for key in keys:
        try:
            verify_standard(request.headers, request.body, whpk=key)
        except Exception as error:  # the next key may verify
            errors.append(error)
        else:
            result: dict[str, Any] = json.loads(request.body)
            return result
    raise AssertionError(f"no key verifies the receipt: {errors}")


async def work_through(api: Api, tenant: Agent, context_id: str) -> None:
    """The recipient accepts the message, then completes it."""
    claim = (await api.claim(tenant)).json()
    delivery_id = claim["id"]
    assert (await api.ack(tenant, delivery_id, "accepted")).status_code == 201
    done = answer("done", context_id)
    assert (await api.ack(tenant, delivery_id, "completed", done)).status_code == 201


async def test_a_config_gets_a_signed_receipt_on_each_state_change(
    api: Api, receiver: Receiver
) -> None:
    caller, tenant = await api.pair()
    a2a = A2A(api.client, caller, tenant)
    task = await a2a.send(text("ping"), returnImmediately=True)
    auth = {"scheme": "Bearer", "credentials": "receipt-secret"}
    made = await a2a.result(
        "CreateTaskPushNotificationConfig",
        {"taskId": task["id"], **config(receiver, id="c1", token="tok-1", authentication=auth)},
    )
    assert made == {
        "tenant": tenant.id,
        "id": "c1",
        "taskId": task["id"],
        "url": receiver.url("/receipts"),
        "token": "tok-1",
        "authentication": {"scheme": "Bearer"},  # the credentials are never shown again
    }
    await work_through(api, tenant, task["contextId"])
    working, completed = await receiver.wait_for(2)
    keys = await public_keys(api, caller)
    first, last = verified(working, keys), verified(completed, keys)
    assert first["statusUpdate"]["taskId"] == task["id"]
    assert first["statusUpdate"]["status"]["state"] == WORKING
    assert last["task"]["status"]["state"] == COMPLETED
    assert last["task"]["artifacts"][0]["parts"] == [{"text": "done"}]
    for request in (working, completed):
        assert request.path == "/receipts"
        assert request.headers["authorization"] == "Bearer receipt-secret"
        assert request.headers["x-a2a-notification-token"] == "tok-1"
        assert request.headers["content-type"] == "application/a2a+json"
    assert working.headers["webhook-id"] != completed.headers["webhook-id"]
    await trio.sleep(0.3)
    assert len(receiver.requests) == 2  # one per change, nothing after the end
    metrics = (await api.client.get("/metrics")).text
    assert 'atp_receipts_total{result="delivered"} 2.0' in metrics


async def test_a_failed_receipt_is_retried_with_the_same_webhook_id(
    api: Api, receiver: Receiver
) -> None:
    caller, tenant = await api.pair()
    a2a = A2A(api.client, caller, tenant)
    task = await a2a.send(text(), returnImmediately=True)
    await a2a.result("CreateTaskPushNotificationConfig", {"taskId": task["id"], **config(receiver)})
    receiver.script(Respond(500), Respond(503))
    claim = (await api.claim(tenant)).json()
    await api.ack(tenant, claim["id"], "accepted")
    requests = await receiver.wait_for(3)
    assert len({r.headers["webhook-id"] for r in requests}) == 1
    assert json.loads(requests[2].body)["statusUpdate"]["status"]["state"] == WORKING


async def test_send_message_can_set_the_config_and_hears_every_change_from_the_send(
    api: Api, receiver: Receiver
) -> None:
    caller, tenant = await api.pair()
    a2a = A2A(api.client, caller, tenant)
    message = text()
    pushes = config(receiver)
    task = await a2a.send(message, returnImmediately=True, taskPushNotificationConfig=pushes)
    configs = await a2a.result("ListTaskPushNotificationConfigs", {"taskId": task["id"]})
    assert [c["id"] for c in configs["configs"]] == [task["id"]]  # A2A's default id
    claim = (await api.claim(tenant)).json()
    await api.ack(tenant, claim["id"], "accepted")
    await receiver.wait_for(1)
    # The send again (a client's retry): the same task, and no receipt sent twice.
    again = await a2a.send(message, returnImmediately=True, taskPushNotificationConfig=pushes)
    assert again["id"] == task["id"]
    await api.ack(tenant, claim["id"], "completed", answer("done", task["contextId"]))
    states = []
    for request in await receiver.wait_for(2):
        body = json.loads(request.body)
        states.append((body.get("statusUpdate") or body["task"])["status"]["state"])
    assert states == [WORKING, COMPLETED]
    await trio.sleep(0.3)
    assert len(receiver.requests) == 2


async def test_configs_are_read_listed_and_deleted_by_their_sender_only(
    api: Api, receiver: Receiver
) -> None:
    caller, tenant = await api.pair()
    a2a = A2A(api.client, caller, tenant)
    task = await a2a.send(text(), returnImmediately=True)
    ids = {"taskId": task["id"]}
    for config_id in ("b", "a"):
        await a2a.result(
            "CreateTaskPushNotificationConfig", {**ids, **config(receiver, id=config_id)}
        )
    got = await a2a.result("GetTaskPushNotificationConfig", {**ids, "id": "a"})
    assert got["url"] == receiver.url("/receipts")
    listed = await a2a.result("ListTaskPushNotificationConfigs", ids)
    assert [c["id"] for c in listed["configs"]] == ["a", "b"]
    assert await a2a.result("DeleteTaskPushNotificationConfig", {**ids, "id": "a"}) == {}
    missing = await a2a.error("GetTaskPushNotificationConfig", {**ids, "id": "a"})
    assert missing["code"] == -32001
    # Over HTTP+JSON too.
    rest = a2a.rest_path(f"/tasks/{task['id']}/pushNotificationConfigs")
    r = await api.client.get(rest, headers=a2a.headers())
    assert [c["id"] for c in r.json()["configs"]] == ["b"]
    r = await api.client.delete(f"{rest}/b", headers=a2a.headers())
    assert r.status_code == 200
    # Another agent sees no task there, so no config either.
    other = await api.agent(name="gamma")
    stranger = A2A(api.client, other, tenant)
    for method in ("GetTaskPushNotificationConfig", "ListTaskPushNotificationConfigs"):
        assert (await stranger.error(method, {**ids, "id": "b"}))["code"] == -32001
    create = {**ids, **config(receiver)}
    assert (await stranger.error("CreateTaskPushNotificationConfig", create))["code"] == -32001
    # A URL the carrier would not push to is refused, and records nothing.
    bad = await a2a.error("CreateTaskPushNotificationConfig", {**ids, "url": "ftp://x"})
    assert bad["code"] == -32602
    listed = await a2a.result("ListTaskPushNotificationConfigs", ids)
    assert listed["configs"] == []


async def test_a_config_set_after_the_end_is_told_nothing(api: Api, receiver: Receiver) -> None:
    caller, tenant = await api.pair()
    a2a = A2A(api.client, caller, tenant)
    task = await a2a.send(text(), returnImmediately=True)
    await work_through(api, tenant, task["contextId"])
    await a2a.result("CreateTaskPushNotificationConfig", {"taskId": task["id"], **config(receiver)})
    await until(lambda: a2a.state_is(task["id"], COMPLETED))
    await trio.sleep(0.3)
    assert receiver.requests == []


async def test_a_410_deletes_the_config(api: Api, receiver: Receiver) -> None:
    caller, tenant = await api.pair()
    a2a = A2A(api.client, caller, tenant)
    task = await a2a.send(text(), returnImmediately=True)
    ids = {"taskId": task["id"]}
    await a2a.result("CreateTaskPushNotificationConfig", {**ids, **config(receiver)})
    receiver.script(Respond(410))
    claim = (await api.claim(tenant)).json()
    await api.ack(tenant, claim["id"], "accepted")
    await receiver.wait_for(1)

    async def deleted() -> bool:
        listed = await a2a.result("ListTaskPushNotificationConfigs", ids)
        return bool(listed["configs"] == [])

    await until(deleted)


async def test_a_receipt_owed_when_the_carrier_stops_is_sent_after_its_restart(
    settings: Settings, receiver: Receiver
) -> None:
    waiting = attrs.evolve(settings, webhook_retry_delays=(0, 600))  # still owed at the stop
    receiver.default = Respond(500)
    async with served(waiting) as api:
        caller, tenant = await api.pair()
        a2a = A2A(api.client, caller, tenant)
        task = await a2a.send(text(), returnImmediately=True)
        await a2a.result(
            "CreateTaskPushNotificationConfig", {"taskId": task["id"], **config(receiver)}
        )
        claim = (await api.claim(tenant)).json()
        await api.ack(tenant, claim["id"], "accepted")
        [refused] = await receiver.wait_for(1)
    receiver.default = Respond(200)
    async with served(settings) as api:
        _, delivered = await receiver.wait_for(2)
        await until(lambda: recorded(api, caller, "delivered"))  # in the ledger
    assert delivered.headers["webhook-id"] == refused.headers["webhook-id"]
    assert json.loads(delivered.body)["statusUpdate"]["status"]["state"] == WORKING


async def recorded(api: Api, sender: Agent, result: str) -> bool:
    """Whether the sender's audit log holds a receipt recorded with ``result``."""
    r = await api.client.get(
        "/api/events", headers={"authorization": f"Bearer {sender.account_token}"}
    )
    records = [e["record"] for e in r.json()["events"]]
    return any(
        r["type"] == "receipts.receipt_recorded" and r["data"]["result"] == result for r in records
    )


async def test_a_task_takes_at_most_ten_configs(api: Api, receiver: Receiver) -> None:
    caller, tenant = await api.pair()
    a2a = A2A(api.client, caller, tenant)
    task = await a2a.send(text(), returnImmediately=True)
    ids = {"taskId": task["id"]}
    for n in range(10):
        await a2a.result(
            "CreateTaskPushNotificationConfig", {**ids, **config(receiver, id=f"c{n}")}
        )
    eleventh = await a2a.error("CreateTaskPushNotificationConfig", {**ids, **config(receiver)})
    assert eleventh["code"] == -32602
    again = await a2a.result(
        "CreateTaskPushNotificationConfig", {**ids, **config(receiver, id="c3")}
    )
    assert again["id"] == "c3"  # replacing one is not an eleventh
    listed = await a2a.result("ListTaskPushNotificationConfigs", ids)
    assert len(listed["configs"]) == 10


async def test_a_released_dead_letter_is_told_again(api: Api, receiver: Receiver) -> None:
    caller, tenant = await api.pair()
    await api.webhook_endpoint(tenant, receiver.url("/down"))
    receiver.script(*[Respond(503)] * 4)  # every attempt of the plan fails
    a2a = A2A(api.client, caller, tenant)
    pushes = config(receiver)  # with the send: the pushes may fail before a later call
    task = await a2a.send(text(), returnImmediately=True, taskPushNotificationConfig=pushes)
    await until(lambda: a2a.state_is(task["id"], "TASK_STATE_FAILED"))
    released = await api.post(f"/api/dead_letters/{task['id']}/release", tenant.token)
    assert released.status_code == 200, released.text

    async def told() -> list[str]:
        receipts = [json.loads(r.body) for r in receiver.requests if r.path == "/receipts"]
        return [(b.get("statusUpdate") or b["task"])["status"]["state"] for b in receipts]

    async def both() -> bool:
        return await told() == ["TASK_STATE_FAILED", "TASK_STATE_SUBMITTED"]

    await until(both)


async def test_receipts_owed_after_a_release_survive_a_restart(
    settings: Settings, receiver: Receiver
) -> None:
    waiting = attrs.evolve(settings, webhook_retry_delays=(0, 600))
    # The push is refused for good (400: a dead letter at once), FAILED is told,
    # SUBMITTED is refused for now (its retry is due long after the stop).
    receiver.script(Respond(400), Respond(200), Respond(500))
    async with served(waiting) as api:
        caller, tenant = await api.pair()
        await api.webhook_endpoint(tenant, receiver.url("/down"))
        a2a = A2A(api.client, caller, tenant)
        # The config with the send: the push may fail before any later call.
        pushes = config(receiver)
        task = await a2a.send(text(), returnImmediately=True, taskPushNotificationConfig=pushes)
        await until(lambda: a2a.state_is(task["id"], "TASK_STATE_FAILED"))
        await receiver.wait_for(2)
        released = await api.post(f"/api/dead_letters/{task['id']}/release", tenant.token)
        assert released.status_code == 200, released.text
        await receiver.wait_for(3)  # SUBMITTED refused: owed at the stop
    async with served(settings) as api:
        *_, refused, resent = await receiver.wait_for(4)
        await until(lambda: recorded(api, caller, "delivered"))
    assert resent.headers["webhook-id"] == refused.headers["webhook-id"]
    assert json.loads(resent.body)["statusUpdate"]["status"]["state"] == "TASK_STATE_SUBMITTED"
