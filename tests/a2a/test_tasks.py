"""Tasks over both bindings: idempotent sends, the list and its pages, the REST shapes,
and the stream of a task's life."""

from __future__ import annotations

import json

import trio

from tests.support.a2a import A2A, answer, text
from tests.support.helpers import Api


async def test_a_message_id_sends_once_and_conflicts_with_another_body(api: Api) -> None:
    caller, tenant = await api.pair()
    a2a = A2A(api.client, caller, tenant)
    message = text("once")
    first = await a2a.send(message, returnImmediately=True)
    again = await a2a.send(message, returnImmediately=True)
    assert again["id"] == first["id"]
    assert again["contextId"] == first["contextId"]  # made once, at the first send
    conflict = await a2a.error("SendMessage", {"message": {**message, "parts": [{"text": "2"}]}})
    assert conflict["code"] == -32602
    assert (await api.claim(tenant)).status_code == 201
    assert (await api.claim(tenant)).json() == {"delivery": None}  # one message in all


async def test_a_message_naming_a_task_is_refused(api: Api) -> None:
    caller, tenant = await api.pair()
    a2a = A2A(api.client, caller, tenant)
    task = await a2a.send(text(), returnImmediately=True)
    follow_up = await a2a.error("SendMessage", {"message": text(taskId=task["id"])})
    assert follow_up["code"] == -32004
    unknown = await a2a.error("SendMessage", {"message": text(taskId="msg_unknown")})
    assert unknown["code"] == -32001


async def test_list_tasks_pages_newest_first_and_filters(api: Api) -> None:
    caller, tenant = await api.pair()
    a2a = A2A(api.client, caller, tenant)
    sent = [
        await a2a.send(
            text(f"n{n}", contextId="ctx-a" if n % 2 else "ctx-b"), returnImmediately=True
        )
        for n in range(5)
    ]
    ids = [t["id"] for t in reversed(sent)]
    first = await a2a.result("ListTasks", {"pageSize": 2})
    assert [t["id"] for t in first["tasks"]] == ids[:2]
    assert (first["pageSize"], first["totalSize"]) == (2, 5)
    second = await a2a.result("ListTasks", {"pageSize": 2, "pageToken": first["nextPageToken"]})
    third = await a2a.result("ListTasks", {"pageSize": 2, "pageToken": second["nextPageToken"]})
    assert [t["id"] for t in second["tasks"] + third["tasks"]] == ids[2:]
    assert third["nextPageToken"] == ""
    in_a = await a2a.result("ListTasks", {"contextId": "ctx-a"})
    assert [t["id"] for t in in_a["tasks"]] == [sent[3]["id"], sent[1]["id"]]
    assert in_a["totalSize"] == 2

    claim = (await api.claim(tenant)).json()  # the oldest
    await api.ack(
        tenant, claim["id"], "completed", answer("ok", claim["message"]["payload"]["contextId"])
    )
    done = await a2a.result("ListTasks", {"status": "TASK_STATE_COMPLETED"})
    assert [t["id"] for t in done["tasks"]] == [sent[0]["id"]]
    assert "artifacts" not in done["tasks"][0]
    with_artifacts = await a2a.result(
        "ListTasks",
        {"status": "TASK_STATE_COMPLETED", "includeArtifacts": True, "historyLength": 0},
    )
    assert with_artifacts["tasks"][0]["artifacts"][0]["parts"] == [{"text": "ok"}]
    assert "history" not in with_artifacts["tasks"][0]
    submitted = await a2a.result("ListTasks", {"status": "TASK_STATE_SUBMITTED"})
    assert submitted["totalSize"] == 4


async def test_the_rest_binding_answers_the_same_tasks(api: Api) -> None:
    caller, tenant = await api.pair()
    a2a = A2A(api.client, caller, tenant)
    body = {"message": text("by rest"), "configuration": {"returnImmediately": True}}
    r = await api.client.post(a2a.rest_path("/message:send"), json=body, headers=a2a.headers())
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/a2a+json"
    task = r.json()["task"]
    assert task == await a2a.task(task["id"])
    r = await api.client.get(
        a2a.rest_path(f"/tasks/{task['id']}?historyLength=0"), headers=a2a.headers()
    )
    assert r.status_code == 200 and "history" not in r.json()
    r = await api.client.get(a2a.rest_path("/tasks?pageSize=1"), headers=a2a.headers())
    assert [t["id"] for t in r.json()["tasks"]] == [task["id"]]
    missing = await api.client.get(a2a.rest_path("/tasks/msg_nope"), headers=a2a.headers())
    assert missing.status_code == 404
    error = missing.json()["error"]
    assert (error["code"], error["status"]) == (404, "NOT_FOUND")
    assert error["details"][0]["reason"] == "TASK_NOT_FOUND"
    contradicting = {**body, "tenant": caller.id}
    r = await api.client.post(
        a2a.rest_path("/message:send"), json=contradicting, headers=a2a.headers()
    )
    assert r.status_code == 400
    r = await api.client.post(
        a2a.rest_path(f"/tasks/{task['id']}:cancel"), json={}, headers=a2a.headers()
    )
    assert r.json()["status"]["state"] == "TASK_STATE_CANCELED"


async def test_a_streamed_send_follows_the_task_to_its_end(api: Api) -> None:
    caller, tenant = await api.pair()
    a2a = A2A(api.client, caller, tenant)
    seen: list[dict] = []

    async def recipient() -> None:
        r = await api.post("/api/inbox/claims", tenant.token, {"wait_seconds": 5})
        claim = r.json()
        context = claim["message"]["payload"]["contextId"]
        await api.ack(tenant, claim["id"], "accepted", answer("on it", context))
        await api.ack(tenant, claim["id"], "completed", answer("done", context))

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(recipient)
            async for event in a2a.events("SendStreamingMessage", {"message": text("go")}):
                seen.append(event["result"])
    kinds = [next(iter(result)) for result in seen]
    assert kinds[0] == "task" and kinds[-1] == "statusUpdate"
    states = [r["statusUpdate"]["status"]["state"] for r in seen if "statusUpdate" in r]
    assert states == ["TASK_STATE_WORKING", "TASK_STATE_COMPLETED"]
    artifact = next(r["artifactUpdate"] for r in seen if "artifactUpdate" in r)
    assert artifact["artifact"]["parts"] == [{"text": "done"}]
    assert artifact["taskId"] == seen[0]["task"]["id"]

    ended = await a2a.error("SubscribeToTask", {"id": seen[0]["task"]["id"]})
    assert ended["code"] == -32004


async def test_a_subscription_over_rest_sees_the_next_state(api: Api) -> None:
    caller, tenant = await api.pair()
    a2a = A2A(api.client, caller, tenant)
    task = await a2a.send(text(), returnImmediately=True)
    path = a2a.rest_path(f"/tasks/{task['id']}:subscribe")
    seen: list[dict] = []
    with trio.fail_after(10):
        async with api.client.stream("POST", path, headers=a2a.headers()) as r:
            assert r.status_code == 200
            async for line in r.aiter_lines():
                if not line.startswith("data: "):
                    continue
                seen.append(json.loads(line[6:]))
                if len(seen) == 1:
                    claim = (await api.claim(tenant)).json()
                    payload = answer("no", task["contextId"])
                    await api.ack(tenant, claim["id"], "rejected", payload)
    assert seen[0]["task"]["status"]["state"] == "TASK_STATE_SUBMITTED"
    assert seen[-1]["statusUpdate"]["status"]["state"] == "TASK_STATE_REJECTED"


async def test_a_context_naming_their_session_sends_its_next_turn(api: Api) -> None:
    caller, tenant = await api.pair()
    a2a = A2A(api.client, caller, tenant)
    opened = await api.post(
        "/api/sessions", caller.token, {"to": tenant.address, "payload": text()}
    )
    session = opened.json()["session"]["id"]
    pending = await a2a.error("SendMessage", {"message": text("too soon", contextId=session)})
    assert pending["code"] != -32001  # refused while the session waits for its answer
    assert (await api.post(f"/api/sessions/{session}/accept", tenant.token)).status_code == 201
    task = await a2a.send(text("turn two", contextId=session), returnImmediately=True)
    assert task["contextId"] == session
    shown = (await api.get(f"/api/sessions/{session}", caller.token)).json()
    turns = [m["message"]["id"] for m in shown["messages"]]
    assert turns[-1] == task["id"]  # in the transcript, after the opening
    # To anyone else the same id is just a context name: a plain message.
    other = await api.agent(name="gamma")
    stranger = await A2A(api.client, other, tenant).send(
        text("not a turn", contextId=session), returnImmediately=True
    )
    status = (await api.status(other.token, stranger["id"])).json()
    assert status["message"].get("session_id") is None


async def test_list_tasks_puts_the_latest_status_change_first(api: Api) -> None:
    caller, tenant = await api.pair()
    a2a = A2A(api.client, caller, tenant)
    first, second = [await a2a.send(text(n), returnImmediately=True) for n in ("1", "2")]
    listed = await a2a.result("ListTasks", {})
    assert [t["id"] for t in listed["tasks"]] == [second["id"], first["id"]]
    claim = (await api.claim(tenant)).json()  # the first, now answered: it changed last
    context = claim["message"]["payload"]["contextId"]
    await api.ack(tenant, claim["id"], "completed", answer("ok", context))
    listed = await a2a.result("ListTasks", {"pageSize": 1})
    assert [t["id"] for t in listed["tasks"]] == [first["id"]]
    rest = await a2a.result("ListTasks", {"pageSize": 1, "pageToken": listed["nextPageToken"]})
    assert [t["id"] for t in rest["tasks"]] == [second["id"]]
    changed_at = listed["tasks"][0]["status"]["timestamp"]
    after = await a2a.result("ListTasks", {"statusTimestampAfter": changed_at})
    assert [t["id"] for t in after["tasks"]] == [first["id"]]
    assert after["totalSize"] == 1
    bad = await a2a.error("ListTasks", {"pageToken": "12"})
    assert bad["code"] == -32602
