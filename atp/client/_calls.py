"""Every API call as data: method, path, body, whether it is idempotent, and its result.

The sync and the async client differ only in how they send a request; what to send and
how to read the answer is written once, here. A call that mutates carries an
idempotency key made once per logical call, so a retry after a lost answer is
answered from the carrier's record instead of acting twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import attrs

from atp.client._results import (
    AccountCreated,
    AgentCreated,
    Claim,
    MessageStatus,
    SessionView,
)

__all__ = [
    "Call", "ack", "answer_session", "claim", "close_session", "create_agent", "open_session",
    "send", "send_turn", "session", "signup", "status",
]  # fmt: skip

T = TypeVar("T")


@attrs.frozen
class Call(Generic[T]):
    """One request and how to read its answer."""

    method: str
    path: str
    read: Callable[[Any], T]
    json: Any = None
    params: dict[str, Any] | None = None
    idempotency_key: str | None = None  # set for every mutating call but signup
    token: str | None = attrs.field(default=None, repr=False)


def _key() -> str:
    return str(uuid.uuid4())


def _mutation(method: str, path: str, token: str, body: Any, read: Callable[[Any], T]) -> Call[T]:
    return Call(method, path, read, json=body, idempotency_key=_key(), token=token)


def signup(name: str) -> Call[AccountCreated]:
    return Call("POST", "/api/accounts", AccountCreated.of, json={"name": name})


def create_agent(
    token: str, display_name: str | None = None, description: str | None = None
) -> Call[AgentCreated]:
    fields = {"display_name": display_name, "description": description}
    body = {name: value for name, value in fields.items() if value is not None}
    return _mutation("POST", "/api/agents", token, body, AgentCreated.of)


def send(token: str, to: str, payload: dict[str, Any]) -> Call[MessageStatus]:
    body = {"to": to, "payload": payload}
    return _mutation("POST", "/api/messages", token, body, MessageStatus.of)


def status(token: str, message_id: str) -> Call[MessageStatus]:
    return Call("GET", f"/api/messages/{message_id}", MessageStatus.of, token=token)


def claim(token: str, lease_seconds: int = 60, wait_seconds: int = 0) -> Call[Claim | None]:
    body = {"lease_seconds": lease_seconds, "wait_seconds": wait_seconds}
    return _mutation("POST", "/api/inbox/claims", token, body, Claim.of_optional)


def ack(
    token: str, delivery_id: str, status: str, payload: dict[str, Any] | None = None
) -> Call[MessageStatus]:
    body: dict[str, Any] = {"status": status}
    if payload is not None:
        body["payload"] = payload
    path = f"/api/deliveries/{delivery_id}/acks"
    return _mutation("POST", path, token, body, MessageStatus.of_ack)


def open_session(token: str, to: str, payload: dict[str, Any]) -> Call[SessionView]:
    body = {"to": to, "payload": payload}
    return _mutation("POST", "/api/sessions", token, body, SessionView.of)


def answer_session(
    token: str, session_id: str, accept: bool, payload: dict[str, Any] | None = None
) -> Call[SessionView]:
    verb = "accept" if accept else "reject"
    body = {} if payload is None else {"payload": payload}
    return _mutation("POST", f"/api/sessions/{session_id}/{verb}", token, body, SessionView.of)


def send_turn(token: str, session_id: str, payload: dict[str, Any]) -> Call[SessionView]:
    path = f"/api/sessions/{session_id}/messages"
    return _mutation("POST", path, token, {"payload": payload}, SessionView.of)


def close_session(token: str, session_id: str) -> Call[SessionView]:
    path = f"/api/sessions/{session_id}/close"
    return _mutation("POST", path, token, {}, SessionView.of)


def session(token: str, session_id: str) -> Call[SessionView]:
    return Call("GET", f"/api/sessions/{session_id}", SessionView.of, token=token)
