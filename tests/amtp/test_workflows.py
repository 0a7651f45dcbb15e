"""AMTP coordination end to end over HTTP: parallel, sequential (the next step carries
the previous answer; ``stop_on_failure``) and conditional workflows, a timeout on the
mock clock, answers only from the participants awaited, the result to the initiator,
and ``GET /v1/workflows/:id``."""

from __future__ import annotations

from typing import Any

import attrs
import httpx
import pytest
from trio.testing import MockClock

from atp.settings import Settings
from tests.support.helpers import Api
from tests.support.mock_clock import open_carrier

DOMAIN = "flow.test"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return attrs.evolve(settings, domain=DOMAIN, agents_per_account={"free": 10})


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


class Flow:
    """One account's agents on the gateway, as AMTP clients."""

    def __init__(self, api: Api, admin: str) -> None:
        self.api, self.admin = api, admin

    async def agent(self, name: str) -> dict[str, Any]:
        r = await self.api.client.post(
            "/v1/admin/agents", json={"address": name}, headers={"X-Admin-Key": self.admin}
        )
        assert r.status_code == 201, r.text
        agent: dict[str, Any] = r.json()["agent"]
        return agent

    async def send(self, sender: dict[str, Any], **message: Any) -> httpx.Response:
        body = {"sender": sender["address"], **message}
        return await self.api.client.post(
            "/v1/messages", json=body, headers=bearer(sender["api_key"])
        )

    async def inbox(self, agent: dict[str, Any]) -> list[dict[str, Any]]:
        path = f"/v1/inbox/{agent['address']}"
        r = await self.api.client.get(path, headers=bearer(agent["api_key"]))
        messages: list[dict[str, Any]] = r.json()["messages"]
        return messages

    async def answer(
        self, agent: dict[str, Any], to: dict[str, Any], workflow_id: str, payload: Any,
        kind: str = "workflow_response",
    ) -> httpx.Response:  # fmt: skip
        return await self.send(
            agent, recipients=[to["address"]], payload=payload, in_reply_to=workflow_id,
            response_type=kind,
        )  # fmt: skip

    async def workflow(self, agent: dict[str, Any], workflow_id: str) -> dict[str, Any]:
        r = await self.api.client.get(
            f"/v1/workflows/{workflow_id}", headers=bearer(agent["api_key"])
        )
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body


async def start(flow: Flow, initiator: dict[str, Any], to: list[str], block: dict[str, Any],
                payload: Any = None) -> str:  # fmt: skip
    r = await flow.send(
        initiator, recipients=to, coordination=block, payload=payload or {"task": 1}
    )
    assert r.status_code == 202, r.text
    workflow_id: str = r.json()["workflow_id"]
    assert workflow_id != r.json()["message_id"]
    return workflow_id


def statuses(workflow: dict[str, Any]) -> dict[str, str]:
    return {p["address"].split("@")[0]: p["status"] for p in workflow["participants"]}


async def test_a_parallel_workflow_completes_when_its_required_participants_answer(
    api: Api,
) -> None:
    flow = Flow(api, await api.signup())
    boss, b, c, d, e = [await flow.agent(n) for n in ("boss", "b", "c", "d", "e")]
    block = {"type": "parallel", "timeout": 600, "required_responses": [b["address"], c["address"]],
             "optional_responses": [d["address"]]}  # fmt: skip
    wf = await start(flow, boss, [b["address"]], block)
    for agent in (b, c, d):
        (got,) = await flow.inbox(agent)
        assert got["coordination"]["workflow_id"] == wf and got["coordination"]["requires_response"]
    refused = await flow.answer(e, boss, wf, {"ok": True})  # not a participant
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "NOT_A_PARTICIPANT"
    assert (await flow.answer(b, boss, wf, {"ok": 1})).status_code == 202
    assert (await flow.workflow(boss, wf))["status"] == "in_progress"
    assert (await flow.answer(c, boss, wf, {"ok": 2})).status_code == 202
    shown = await flow.workflow(boss, wf)
    assert shown["status"] == "completed" and shown["type"] == "parallel"
    assert statuses(shown) == {"b": "completed", "c": "completed", "d": "pending"}
    again = await flow.answer(b, boss, wf, {"ok": 1})  # the workflow has ended
    assert again.status_code == 403
    inbox = await flow.inbox(boss)
    answers = [m for m in inbox if m.get("response_type") == "workflow_response"]
    (result,) = [m for m in inbox if m.get("response_type") == "workflow_result"]
    assert len(answers) == 2  # the answers themselves reach the initiator too
    assert result["in_reply_to"] == wf and result["payload"]["status"] == "completed"
    assert {r["address"]: r.get("payload") for r in result["payload"]["results"]} == {
        b["address"]: {"ok": 1},
        c["address"]: {"ok": 2},
        d["address"]: None,
    }
    other = await api.client.get(f"/v1/workflows/{wf}", headers=bearer(b["api_key"]))
    assert other.status_code == 404  # the initiator's to see
    # The native route shows the same state, with the contract's error envelope.
    native = await api.client.get(f"/api/workflows/{wf}", headers=bearer(boss["api_key"]))
    assert native.status_code == 200 and native.json() == await flow.workflow(boss, wf)
    hidden = await api.client.get(f"/api/workflows/{wf}", headers=bearer(b["api_key"]))
    assert hidden.status_code == 404 and hidden.json()["error"]["code"] == "not_found"
    account = await api.client.get(f"/api/workflows/{wf}", headers=bearer(flow.admin))
    assert account.status_code == 200 and account.json()["workflow_id"] == wf


async def test_a_sequential_workflow_carries_each_answer_to_the_next_step(api: Api) -> None:
    flow = Flow(api, await api.signup())
    boss, b, c = [await flow.agent(n) for n in ("boss", "b", "c")]
    block = {"type": "sequential", "timeout": 600, "sequence": [b["address"], c["address"]]}
    wf = await start(flow, boss, [b["address"]], block, {"draft": "v0"})
    assert len(await flow.inbox(b)) == 1 and await flow.inbox(c) == []
    assert (await flow.answer(b, boss, wf, {"draft": "v1"})).status_code == 202
    (step,) = await flow.inbox(c)
    assert step["payload"] == {"draft": "v0"}  # the task as sent
    assert step["sender"] == boss["address"]
    assert step["coordination"]["previous_response"] == {"address": b["address"],
                                                         "payload": {"draft": "v1"}}  # fmt: skip
    assert (await flow.answer(c, boss, wf, {"draft": "v2"})).status_code == 202
    assert (await flow.workflow(boss, wf))["status"] == "completed"


async def test_stop_on_failure_ends_a_sequence_at_its_first_failure(api: Api) -> None:
    flow = Flow(api, await api.signup())
    boss, b, c = [await flow.agent(n) for n in ("boss", "b", "c")]
    block = {"type": "sequential", "timeout": 600, "sequence": [b["address"], c["address"]],
             "stop_on_failure": True}  # fmt: skip
    wf = await start(flow, boss, [b["address"]], block)
    failed = await flow.answer(b, boss, wf, {"reason": "no stock"}, kind="workflow_error")
    assert failed.status_code == 202
    shown = await flow.workflow(boss, wf)
    assert shown["status"] == "failed"
    assert statuses(shown) == {"b": "failed", "c": "pending"}
    assert await flow.inbox(c) == []  # never sent on


async def test_a_conditional_workflow_follows_the_branch_the_answer_chooses(api: Api) -> None:
    flow = Flow(api, await api.signup())
    boss, manager, finance, hr = [await flow.agent(n) for n in ("boss", "manager", "finance", "hr")]
    branch = {"if": "approve == true", "then": [finance["address"]], "else": [hr["address"]]}
    block = {"type": "conditional", "timeout": 600, "conditions": [branch]}
    wf = await start(flow, boss, [manager["address"]], block)
    assert await flow.inbox(finance) == [] and await flow.inbox(hr) == []
    assert (await flow.answer(manager, boss, wf, {"approve": True})).status_code == 202
    assert len(await flow.inbox(finance)) == 1 and await flow.inbox(hr) == []
    shown = await flow.workflow(boss, wf)
    assert statuses(shown) == {"manager": "completed", "finance": "pending", "hr": "skipped"}
    assert (await flow.answer(finance, boss, wf, {"paid": True})).status_code == 202
    assert (await flow.workflow(boss, wf))["status"] == "completed"

    bad = {"type": "conditional", "timeout": 600, "conditions": [
        {"if": "whenever it feels right", "then": [hr["address"]]}]}  # fmt: skip
    r = await flow.send(boss, recipients=[manager["address"]], coordination=bad, payload=1)
    assert r.status_code == 400 and r.json()["error"]["code"] == "COORDINATION_FAILED"


async def test_a_workflow_times_out_and_tells_its_initiator(
    settings: Settings, clock: MockClock
) -> None:
    async with open_carrier(settings) as (api, _):
        flow = Flow(api, await api.signup())
        boss, b = await flow.agent("boss"), await flow.agent("b")
        block = {"type": "parallel", "timeout": 30, "required_responses": [b["address"]]}
        wf = await start(flow, boss, [b["address"]], block)
        clock.jump(31)
        for _ in range(50):  # the deadline fires on the mock clock
            if (await flow.workflow(boss, wf))["status"] != "in_progress":
                break
            clock.jump(1)
        shown = await flow.workflow(boss, wf)
        assert shown["status"] == "timeout" and statuses(shown) == {"b": "timeout"}
        late = await flow.answer(b, boss, wf, {"ok": True})
        assert late.status_code == 403
        (result,) = [
            m for m in await flow.inbox(boss) if m.get("response_type") == "workflow_result"
        ]
        assert result["payload"]["status"] == "timeout"
