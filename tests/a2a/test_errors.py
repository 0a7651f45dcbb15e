"""A2A errors in A2A's shapes, and no task shown to an agent that may not see it."""

from __future__ import annotations

import pytest

from tests.support.a2a import A2A, text
from tests.support.helpers import Api


async def test_json_rpc_errors_carry_their_codes_and_change_nothing(api: Api) -> None:
    caller, tenant = await api.pair()
    a2a = A2A(api.client, caller, tenant)
    headers = a2a.headers()

    async def error(body: bytes | str, **extra: str) -> dict:
        r = await api.client.post("/a2a", content=body, headers={**headers, **extra})
        assert r.status_code == 200, r.text
        return r.json()

    assert (await error(b"{not json"))["error"]["code"] == -32700
    assert (await error(b"{not json"))["id"] is None
    assert (await error('{"jsonrpc": "1.0", "id": 1, "method": "GetTask"}'))["error"][
        "code"
    ] == -32600
    assert (await error('{"jsonrpc": "2.0", "id": true, "method": "GetTask"}'))["error"][
        "code"
    ] == -32600
    assert (await a2a.error("NoSuchMethod"))["code"] == -32601
    assert (await a2a.error("SendMessage", {"message": {"role": "ROLE_USER"}}))["code"] == -32602
    assert (await a2a.error("GetTask", {"id": "msg_nope"}))["code"] == -32001
    assert (await a2a.error("ListTasks", {"pageSize": 0}))["code"] == -32602
    assert (await a2a.error("ListTasks", {"status": "DONE"}))["code"] == -32602
    push = {"message": text(), "configuration": {"taskPushNotificationConfig": {"url": "x"}}}
    assert (await a2a.error("SendMessage", push))["code"] == -32602  # checked before sending
    found = await a2a.error("GetTask", {"id": "msg_nope"})
    assert found["data"][0]["reason"] == "TASK_NOT_FOUND"
    assert found["data"][0]["domain"] == "a2a-protocol.org"
    # None of them sent anything.
    assert (await api.claim(tenant)).json() == {"delivery": None}


async def test_a_version_other_than_1_is_refused(api: Api) -> None:
    caller, tenant = await api.pair()
    a2a = A2A(api.client, caller, tenant)
    body = {"jsonrpc": "2.0", "id": 1, "method": "ListTasks", "params": {"tenant": tenant.id}}
    auth = {"Authorization": f"Bearer {caller.token}"}
    for version in ({}, {"A2A-Version": ""}, {"A2A-Version": "0.3"}, {"A2A-Version": "2.0"}):
        r = await api.client.post("/a2a", json=body, headers={**auth, **version})
        assert r.json()["error"]["code"] == -32009, version
    r = await api.client.post("/a2a", json=body, headers={**auth, "A2A-Version": "1.2"})
    assert "result" in r.json()
    rest = await api.client.get(a2a.rest_path("/tasks"), headers=auth)
    assert rest.status_code == 400
    assert rest.json()["error"]["details"][0]["reason"] == "VERSION_NOT_SUPPORTED"


@pytest.mark.parametrize("binding", ["jsonrpc", "rest"])
async def test_calls_without_an_agent_key_are_answered_401(api: Api, binding: str) -> None:
    caller, tenant = await api.pair()
    a2a = A2A(api.client, caller, tenant)
    for token in (None, "agk_forged", caller.account_token):
        if binding == "jsonrpc":
            r = await a2a.rpc("ListTasks", token=token)
        else:
            r = await api.client.get(a2a.rest_path("/tasks"), headers=a2a.headers(token))
        assert r.status_code == 401, r.text
        assert r.headers["www-authenticate"].startswith("Bearer")


async def test_no_call_shows_a_task_to_anyone_but_its_sender_at_its_tenant(api: Api) -> None:
    """A matrix: the sender, the tenant itself, and two agents of another account (its
    account's key too); each asking through the tenant and through other tenants."""
    account = await api.signup()
    sender = await api.agent(account, "sender")
    tenant = await api.agent(account, "tenant")
    other = await api.signup()
    sibling = await api.agent(other, "sibling")
    stranger = await api.agent(other, "stranger")
    task = await A2A(api.client, sender, tenant).send(text("private"), returnImmediately=True)
    task_id = task["id"]
    for who in (sender, sibling, stranger, tenant):
        for through in (tenant, sibling, sender, stranger):
            if (who, through) == (sender, tenant):
                continue
            if who == through:
                continue
            a2a = A2A(api.client, who, through)
            assert (await a2a.error("GetTask", {"id": task_id}))["code"] == -32001
            assert (await a2a.error("SubscribeToTask", {"id": task_id}))["code"] == -32001
            assert (await a2a.error("CancelTask", {"id": task_id}))["code"] == -32001
            configs = {"taskId": task_id, "id": task_id, "url": "https://example.com/r"}
            for method in (
                "CreateTaskPushNotificationConfig",
                "GetTaskPushNotificationConfig",
                "ListTaskPushNotificationConfigs",
                "DeleteTaskPushNotificationConfig",
            ):
                assert (await a2a.error(method, configs))["code"] == -32001, method
            listed = await a2a.result("ListTasks")
            assert task_id not in [t["id"] for t in listed["tasks"]]
            rest = await api.client.get(a2a.rest_path(f"/tasks/{task_id}"), headers=a2a.headers())
            assert rest.status_code == 404
    mine = A2A(api.client, sender, tenant)
    assert (await mine.task(task_id))["id"] == task_id
    listed = await mine.result("ListTaskPushNotificationConfigs", {"taskId": task_id})
    assert listed["configs"] == []  # nobody else made one
    assert [t["id"] for t in (await mine.result("ListTasks"))["tasks"]] == [task_id]


async def test_an_unknown_or_missing_tenant_is_invalid(api: Api) -> None:
    caller, tenant = await api.pair()
    a2a = A2A(api.client, caller, tenant)
    body = {"jsonrpc": "2.0", "id": 1, "method": "ListTasks", "params": {}}
    r = await api.client.post("/a2a", json=body, headers=a2a.headers())
    assert r.json()["error"]["code"] == -32602
    body["params"] = {"tenant": "agt_nobody"}
    r = await api.client.post("/a2a", json=body, headers=a2a.headers())
    assert r.json()["error"]["code"] == -32602
    r = await api.client.get("/a2a/agt_nobody/tasks", headers=a2a.headers())
    assert r.status_code == 404
    assert r.json()["error"]["details"][0]["reason"] == "TENANT_NOT_FOUND"
