"""CancelTask: a sender withdraws a message nobody has been handed; after a claim, a
push or an answer it is too late."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from atp.domain import Message
from atp.errors import MessageNotCancelable, NotFound
from tests.support.a2a import A2A, text
from tests.support.helpers import Api


async def test_a_queued_message_is_canceled_once_and_never_handed_out(api: Api) -> None:
    caller, tenant = await api.pair()
    a2a = A2A(api.client, caller, tenant)
    task = await a2a.send(text("never mind"), returnImmediately=True)
    canceled = await a2a.result("CancelTask", {"id": task["id"]})
    assert canceled["status"]["state"] == "TASK_STATE_CANCELED"
    assert "canceled" in canceled["status"]["message"]["parts"][0]["text"]
    again = await a2a.result("CancelTask", {"id": task["id"]})
    assert again["status"] == canceled["status"]  # the same end, not a second one
    assert (await api.claim(tenant)).json() == {"delivery": None}
    status = (await api.status(caller.token, task["id"])).json()
    assert status["carrier_status"] == "canceled" and status["terminal_at"] is not None
    history = (await api.get(f"/api/messages/{task['id']}/history", caller.token)).json()
    assert [h["record"]["type"] for h in history["history"]].count("message.canceled") == 1
    listed = await a2a.result("ListTasks", {"status": "TASK_STATE_CANCELED"})
    assert [t["id"] for t in listed["tasks"]] == [task["id"]]


async def test_too_late_once_handed_out(api: Api) -> None:
    caller, tenant = await api.pair()
    a2a = A2A(api.client, caller, tenant)
    task = await a2a.send(text(), returnImmediately=True)
    assert (await api.claim(tenant)).status_code == 201
    refused = await a2a.error("CancelTask", {"id": task["id"]})
    assert refused["code"] == -32002
    assert (await a2a.task(task["id"]))["status"]["state"] == "TASK_STATE_SUBMITTED"


def test_only_its_sender_cancels_and_only_before_anything_happened() -> None:
    now = datetime(2026, 12, 7, tzinfo=UTC)

    def sent(**extra: object) -> Message:
        return Message.create(
            "msg_c", sender_agent_id="agt_s", sender_account_id="acct", recipient_agent_id="agt_r",
            recipient_account_id="acct", trust="trusted", payload=text(), at=now,
            expires_at=now, **extra,
        )  # fmt: skip

    with pytest.raises(NotFound):
        sent().cancel("agt_r", now)
    pushed = sent()
    pushed.schedule_webhook("dlv_w", 3, now)
    with pytest.raises(MessageNotCancelable):
        pushed.cancel("agt_s", now)
    with pytest.raises(MessageNotCancelable):
        sent(session_id="ses_1", session_sequence=2).cancel("agt_s", now)
    message = sent()
    assert message.cancel("agt_s", now) and not message.cancel("agt_s", now)
    assert not message.is_open
