"""Delivery to a recipient that is an A2A server (an endpoint of kind ``a2a``).

The carrier calls the recipient's ``SendMessage`` (A2A 1.0, JSON-RPC binding) with the
message's payload, blocking (A2A's default: the recipient answers once the task ends,
or needs input), within the webhook attempt's timeouts, and records the task state the
recipient answers as its ACK: completed, failed (or canceled), rejected; any other
state (submitted, working, or waiting for input) as accepted. A recipient that answers
with a Message instead of a task has completed. The ACK's
payload is the recipient's status message, or, when it has none or not one the
carrier can store, one made of the answer's text and artifacts.

A task answered as still going on is followed with the recipient's ``GetTask``
(``get_task_request``, ``read_task``) until it ends; its end is the next ACK.
"""

from __future__ import annotations

import json
from typing import Any

import attrs

from atp.domain import AckStatus
from atp.errors import InvalidA2AMessage
from atp.wire._a2a import validate_a2a_message

__all__ = [
    "A2A_ANSWER_ERRORS",
    "A2AAnswer",
    "NotAnAnswer",
    "get_task_request",
    "read_answer",
    "read_task",
    "send_message_request",
]

_COMPACT = json.JSONEncoder(separators=(",", ":"))
# Attempt errors of an A2A delivery (beside the transport's): the server answered with
# a JSON-RPC error, or with something that is not an A2A answer. Both are retried.
A2A_ANSWER_ERRORS = frozenset({"a2a_error", "a2a_invalid_answer"})
_ACK_OF_STATE = {
    "TASK_STATE_COMPLETED": "completed",
    "TASK_STATE_FAILED": "failed",
    "TASK_STATE_CANCELED": "failed",
    "TASK_STATE_REJECTED": "rejected",
}


@attrs.frozen
class A2AAnswer:
    """What a recipient's ``SendMessage`` answer comes to: an ACK status and payload."""

    ack_status: AckStatus = attrs.field(converter=AckStatus)
    payload: dict[str, Any] = attrs.field(repr=False)


class NotAnAnswer(Exception):
    """The body is not a successful A2A answer; ``error`` is the attempt's error."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


def send_message_request(push_body: bytes, request_id: str) -> bytes:
    """The JSON-RPC ``SendMessage`` request carrying the message of a push body."""
    envelope = json.loads(push_body)["message"]
    params = {
        "message": envelope["payload"],
        "configuration": {},
        "metadata": {"atp": {"messageId": envelope["id"], "from": envelope["from"]}},
    }
    request = {"jsonrpc": "2.0", "id": request_id, "method": "SendMessage", "params": params}
    return _COMPACT.encode(request).encode()


def get_task_request(task_id: str, request_id: str) -> bytes:
    """The JSON-RPC ``GetTask`` request for the recipient's task ``task_id``."""
    request = {"jsonrpc": "2.0", "id": request_id, "method": "GetTask", "params": {"id": task_id}}
    return _COMPACT.encode(request).encode()


def read_answer(body: bytes) -> A2AAnswer:
    """The ACK a ``SendMessage`` answer comes to.

    Raises:
        NotAnAnswer: a JSON-RPC error (``a2a_error``), or no answer at all
            (``a2a_invalid_answer``).
    """
    result = _result(body)
    if isinstance(result, dict) and isinstance(result.get("message"), dict):
        message = result["message"]
        return A2AAnswer("completed", _payload(message, message.get("contextId"), None, []))
    return _task_answer(result.get("task") if isinstance(result, dict) else None)


def read_task(body: bytes) -> A2AAnswer:
    """The ACK a ``GetTask`` answer comes to (``accepted``: the task goes on).

    Raises:
        NotAnAnswer: as ``read_answer``.
    """
    return _task_answer(_result(body))


def _result(body: bytes) -> Any:
    try:
        document = json.loads(body)
    except ValueError:
        raise NotAnAnswer("a2a_invalid_answer") from None
    if not isinstance(document, dict):
        raise NotAnAnswer("a2a_invalid_answer")
    if "error" in document:
        raise NotAnAnswer("a2a_error")
    return document.get("result")


def _task_answer(task: Any) -> A2AAnswer:
    if not isinstance(task, dict) or not isinstance(task.get("status"), dict):
        raise NotAnAnswer("a2a_invalid_answer")
    status = task["status"]
    ack = _ACK_OF_STATE.get(status.get("state"), "accepted")
    artifacts = task.get("artifacts") if ack == "completed" else None
    parts = [
        part
        for artifact in (artifacts if isinstance(artifacts, list) else [])
        if isinstance(artifact, dict)
        for part in artifact.get("parts") or []
    ]
    said = status.get("message")
    task_id = task.get("id") if isinstance(task.get("id"), str) else None
    return A2AAnswer(ack, _payload(said, task.get("contextId"), task_id, parts, status))


def _payload(
    said: object,
    context_id: object,
    task_id: str | None,
    parts: list[Any],
    status: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The recipient's message as an ACK payload: as it said it, if the carrier can
    store that, else one the carrier writes from its parts, artifacts and state."""
    context = context_id if isinstance(context_id, str) and context_id else f"ctx_{task_id}"
    if isinstance(said, dict):
        candidate = {"contextId": context, **said, "role": "ROLE_AGENT"}
        if task_id is not None:  # the recipient's task: followed from the ACK (GetTask)
            candidate["taskId"] = task_id
        if parts and "parts" in candidate:
            candidate["parts"] = [*candidate["parts"], *parts]
        try:
            validate_a2a_message(candidate)
            return candidate
        except InvalidA2AMessage:
            pass
    state = "" if status is None else str(status.get("state", ""))
    made: dict[str, Any] = {
        "messageId": f"{task_id or 'answer'}-{state.lower() or 'message'}",
        "role": "ROLE_AGENT",
        "contextId": context,
        "parts": parts or [{"text": state or "answered"}],
    }
    if task_id is not None:
        made["taskId"] = task_id
    try:
        validate_a2a_message(made)
    except InvalidA2AMessage:
        made["parts"] = [{"text": state or "answered"}]
    return made
