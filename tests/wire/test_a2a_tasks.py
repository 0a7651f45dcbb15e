"""The A2A shapes the carrier writes and reads, without I/O: a message as a task, and
an A2A recipient's answer as an ACK."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from atp.domain import Message
from atp.wire import (
    NotAnAnswer,
    message_status,
    read_answer,
    send_message_request,
    sent_task,
    task_document,
)

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def message(**payload: object) -> Message:
    return Message.create(
        "msg_t",
        sender_agent_id="agt_a",
        sender_account_id="acct_a",
        recipient_agent_id="agt_b",
        recipient_account_id="acct_a",
        trust="trusted",
        payload={"messageId": "m1", "role": "ROLE_USER", "parts": [{"text": "hi"}], **payload},
        at=NOW,
        expires_at=NOW + timedelta(days=1),
    )


def test_the_carrier_ending_a_task_says_why() -> None:
    expired = message(contextId="c1")
    assert expired.expire_if_due(NOW + timedelta(days=2))
    task = task_document(expired)
    assert task["status"]["state"] == "TASK_STATE_FAILED"
    assert "expired" in task["status"]["message"]["parts"][0]["text"]
    assert task["status"]["message"]["contextId"] == "c1"
    refused = message()
    refused.reject(NOW)
    assert task_document(refused)["status"]["state"] == "TASK_STATE_REJECTED"
    assert task_document(refused)["contextId"] == "ctx_msg_t"


def test_each_ack_is_a_state() -> None:
    for status, state in [
        ("accepted", "TASK_STATE_WORKING"),
        ("completed", "TASK_STATE_COMPLETED"),
        ("failed", "TASK_STATE_FAILED"),
        ("rejected", "TASK_STATE_REJECTED"),
    ]:
        m = message()
        m.lease("dlv_1", 60, NOW)
        m.ack("ack_1", "dlv_1", status, None, NOW + timedelta(seconds=1))
        task = task_document(m, history_length=0)
        assert task["status"]["state"] == state
        assert "history" not in task and "artifacts" not in task


def test_a_send_message_request_carries_the_payload() -> None:
    push = {"message": {"id": "msg_t", "from": "atp://agent/agt_a", "payload": {"x": 1}}}
    request = json.loads(send_message_request(json.dumps(push).encode(), "dlv_1"))
    assert request["method"] == "SendMessage" and request["id"] == "dlv_1"
    assert request["params"]["message"] == {"x": 1}
    assert request["params"]["metadata"]["atp"]["messageId"] == "msg_t"


def answer(result: object) -> bytes:
    return json.dumps({"jsonrpc": "2.0", "id": "dlv_1", "result": result}).encode()


def test_an_answer_is_an_ack() -> None:
    task = {
        "id": "t1",
        "contextId": "c1",
        "status": {"state": "TASK_STATE_COMPLETED"},
        "artifacts": [{"artifactId": "a", "parts": [{"text": "42"}]}],
    }
    done = read_answer(answer({"task": task}))
    assert done.ack_status == "completed"
    assert done.payload["parts"] == [{"text": "42"}] and done.payload["taskId"] == "t1"
    working = read_answer(answer({"task": {**task, "status": {"state": "TASK_STATE_WORKING"}}}))
    assert working.ack_status == "accepted"
    canceled = {**task, "status": {"state": "TASK_STATE_CANCELED"}}
    assert read_answer(answer({"task": canceled})).ack_status == "failed"
    said = {"messageId": "r", "role": "ROLE_AGENT", "contextId": "c1", "parts": [{"text": "hi"}]}
    assert read_answer(answer({"message": said})).payload == said


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"not json", "a2a_invalid_answer"),
        (json.dumps({"jsonrpc": "2.0", "id": 1, "error": {"code": -32602}}).encode(), "a2a_error"),
        (answer({"task": {"id": "t"}}), "a2a_invalid_answer"),
        (answer(None), "a2a_invalid_answer"),
    ],
)
def test_what_is_not_an_answer_is_an_attempt_error(body: bytes, error: str) -> None:
    with pytest.raises(NotAnAnswer) as refused:
        read_answer(body)
    assert refused.value.error == error


def test_a_sent_task_is_the_task_of_the_message_as_sent() -> None:
    for refuse in (False, True):
        m = message(contextId="c1") if refuse else message()
        if refuse:
            m.reject(NOW)
        status = json.loads(json.dumps(message_status(m)))  # as the send answered it
        for length in (None, 0, 1):
            assert sent_task(status, length) == task_document(m, length)
