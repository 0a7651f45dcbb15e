"""A message as an A2A 1.0 Task: the task a sender sees of what it sent.

ATP carries one message per task: the task's id is the message's, its history opens
with the sender's message, and its state is read off the delivery and the recipient's
ACKs. The recipient's ACK payloads (A2A Messages with ``ROLE_AGENT``) are the agent's
side of the history; a completing ACK's payload is also the status message and the
task's one artifact. States the carrier reaches without the recipient (expiry, a dead
letter, a sender policy, the sender's cancel) get a status message of the carrier's own that says
why.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from atp.domain import ADDRESS_PREFIX, AckStatus, CarrierStatus, Message
from atp.wire._render import iso

__all__ = [
    "TERMINAL_TASK_STATES",
    "context_id",
    "sent_task",
    "status_time",
    "status_update",
    "task_document",
    "task_state",
]

_SUBMITTED = "TASK_STATE_SUBMITTED"
_WORKING = "TASK_STATE_WORKING"
_COMPLETED = "TASK_STATE_COMPLETED"
_FAILED = "TASK_STATE_FAILED"
_REJECTED = "TASK_STATE_REJECTED"
_CANCELED = "TASK_STATE_CANCELED"
TERMINAL_TASK_STATES = frozenset({_COMPLETED, _FAILED, _REJECTED, _CANCELED})

_BY_ACK = {
    AckStatus.ACCEPTED: _WORKING,
    AckStatus.COMPLETED: _COMPLETED,
    AckStatus.FAILED: _FAILED,
    AckStatus.REJECTED: _REJECTED,
}
# What the carrier says when it, not the recipient, ended the task.
_CARRIER_ENDS = {
    CarrierStatus.EXPIRED: (_FAILED, "expired: the recipient did not take it in time"),
    CarrierStatus.DELIVERY_FAILED: (
        _FAILED,
        "dead-lettered: every webhook delivery attempt failed",
    ),
    CarrierStatus.REJECTED: (_REJECTED, "rejected by the recipient's sender policy"),
    CarrierStatus.CANCELED: (_CANCELED, "canceled by its sender before anyone took it"),
}


def context_id(message: Message) -> str:
    """The conversation the task belongs to: the message's own ``contextId``, else its
    ATP session, else one of its own."""
    return _context_of(message.payload, message.session_id, message.message_id)


def _context_of(payload: Any, session_id: str | None, message_id: str) -> str:
    named = payload.get("contextId") if isinstance(payload, dict) else None
    if isinstance(named, str) and named:
        return named
    return session_id or f"ctx_{message_id}"


def status_update(task: dict[str, Any]) -> dict[str, Any]:
    """The StreamResponse that says ``task`` (a Task object) is now in its status."""
    ids = {"taskId": task["id"], "contextId": task["contextId"]}
    return {"statusUpdate": {**ids, "status": task["status"]}}


def task_state(message: Message) -> str:
    """The task's state now (``TASK_STATE_*``)."""
    if message.ack_status is not None:
        return _BY_ACK[message.ack_status]
    ended = _CARRIER_ENDS.get(message.carrier_status)
    return _SUBMITTED if ended is None else ended[0]


def task_document(message: Message, history_length: int | None = None) -> dict[str, Any]:
    """The Task object (ProtoJSON), with at most ``history_length`` of the latest
    history messages (None: all of them; 0: none)."""
    context = context_id(message)
    state = task_state(message)
    history: list[Any] = [message.payload, *(a.payload for a in message.acks if a.payload)]
    status: dict[str, Any] = {"state": state, "timestamp": iso(status_time(message))}
    last = message.acks[-1] if message.acks else None
    if last is not None and last.payload:
        status["message"] = last.payload
    elif message.ack_status is None and message.carrier_status in _CARRIER_ENDS:
        reason = _CARRIER_ENDS[message.carrier_status][1]
        status["message"] = _carrier_says(message.message_id, context, reason)
    task: dict[str, Any] = {"id": message.message_id, "contextId": context, "status": status}
    if state == _COMPLETED and last is not None and isinstance(last.payload, dict):
        task["artifacts"] = [
            {"artifactId": last.id, "name": "answer", "parts": last.payload.get("parts", [])}
        ]
    _history(task, history, history_length)
    task["metadata"] = _metadata(
        ADDRESS_PREFIX + message.sender_agent_id,
        ADDRESS_PREFIX + message.recipient_agent_id,
        message.carrier_status,
        message.ack_status,
        iso(message.created_at),
    )
    return task


def sent_task(status: dict[str, Any], history_length: int | None = None) -> dict[str, Any]:
    """The task of a message just sent, from the send's answer (its message-status
    document): what ``task_document`` makes of the message then, without reading it
    back. Nothing has answered it yet, so only the carrier's own ends apply."""
    envelope = status["message"]
    payload = envelope["payload"]
    context = _context_of(payload, envelope.get("session_id"), envelope["id"])
    carrier_status = CarrierStatus(status["carrier_status"])
    ended = _CARRIER_ENDS.get(carrier_status)
    state: dict[str, Any] = {"state": _SUBMITTED if ended is None else ended[0]}
    state["timestamp"] = status["terminal_at"] or envelope["created_at"]
    if ended is not None:
        state["message"] = _carrier_says(envelope["id"], context, ended[1])
    task: dict[str, Any] = {"id": envelope["id"], "contextId": context, "status": state}
    _history(task, [payload], history_length)
    task["metadata"] = _metadata(
        envelope["from"], envelope["to"], carrier_status, None, envelope["created_at"]
    )
    return task


def _history(task: dict[str, Any], history: list[Any], history_length: int | None) -> None:
    if history_length is None:
        task["history"] = history
    elif history_length > 0:
        task["history"] = history[-history_length:]


def _metadata(
    sender: str, recipient: str, carrier: CarrierStatus, ack: AckStatus | None, created: Any
) -> dict[str, Any]:
    """The carrier's facts of the task (``metadata.atp``)."""
    return {
        "atp": {
            "from": sender,
            "to": recipient,
            "carrierStatus": str(carrier),
            "ackStatus": None if ack is None else str(ack),
            "createdAt": created,
        }
    }


def status_time(message: Message) -> datetime:
    """When the task's status last changed."""
    if message.terminal_at is not None:
        return message.terminal_at
    if message.acks:
        return message.acks[-1].created_at
    return message.created_at


def _carrier_says(message_id: str, context: str, reason: str) -> dict[str, Any]:
    return {
        "messageId": f"{message_id}-status",
        "contextId": context,
        "taskId": message_id,
        "role": "ROLE_AGENT",
        "parts": [{"text": reason}],
    }
