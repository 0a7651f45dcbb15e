"""Every API call as data: method, path, body, whether it is idempotent, and its result.

The sync and the async client differ only in how they send a request; what to send and
how to read the answer is written once, here, one function per route of
``docs/api.md``. A call that mutates carries an idempotency key made once per logical
call, so a retry after a lost answer is answered from the carrier's record instead of
acting twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

from atp.client._audit import AuditorKey, EventPage, MessageHistory
from atp.client._batches import BatchResult
from atp.client._call import Call, given, mutation, read
from atp.client._identity import (
    AccountCreated,
    Agent,
    AgentCreated,
    AgentKey,
    SenderPolicy,
    SigningKeys,
    WebhookEndpoint,
)
from atp.client._replays import Replay
from atp.client._results import (
    Claim,
    DeadLetterPage,
    Health,
    MessageStatus,
    Readiness,
    Recipients,
    Sent,
    SessionPage,
    SessionView,
    Workflow,
    sent,
)

__all__ = [
    "Call",
    "Recipients",
    "Sent",
    "ack",
    "ack_batch",
    "agent",
    "answer_session",
    "cancel_replay",
    "claim",
    "claim_batch",
    "close_session",
    "create_agent",
    "dead_letters",
    "events",
    "extend_lease",
    "health",
    "issue_auditor_key",
    "message_history",
    "open_session",
    "ready",
    "redrive_dead_letter",
    "release_dead_letter",
    "replay",
    "replay_message",
    "rotate_agent_key",
    "rotate_signing_key",
    "send",
    "send_batch",
    "send_turn",
    "session",
    "sessions",
    "set_sender_policy",
    "set_webhook_endpoint",
    "signing_keys",
    "signup",
    "start_replay",
    "status",
    "workflow",
]

# -- the carrier --------------------------------------------------------------------


def health() -> Call[Health]:
    return Call("GET", "/health", Health.of)


def ready() -> Call[Readiness]:
    return Call("GET", "/ready", Readiness.of, answers=frozenset({503}))


# -- accounts, agents and keys ------------------------------------------------------


def signup(name: str) -> Call[AccountCreated]:
    return Call("POST", "/api/accounts", AccountCreated.of, json={"name": name})


def create_agent(
    token: str,
    display_name: str | None = None,
    description: str | None = None,
    name: str | None = None,
) -> Call[AgentCreated]:
    body = given(display_name=display_name, description=description, name=name)
    return mutation("POST", "/api/agents", token, body, AgentCreated.of)


def agent(token: str, agent_id: str) -> Call[Agent]:
    return read(f"/api/agents/{agent_id}", token, Agent.of)


def rotate_agent_key(token: str, agent_id: str) -> Call[AgentKey]:
    return mutation("POST", f"/api/agents/{agent_id}/keys", token, {}, AgentKey.of)


# -- what an agent sets on itself ---------------------------------------------------


def set_webhook_endpoint(
    token: str, agent_id: str, url: str, authentication: tuple[str, str] | None = None
) -> Call[WebhookEndpoint]:
    """``authentication`` is ``(scheme, credentials)``: pushes then carry that
    ``Authorization`` header (A2A push receivers)."""
    body: dict[str, Any] = {"url": url}
    if authentication is not None:
        scheme, credentials = authentication
        body["authentication"] = {"scheme": scheme, "credentials": credentials}
    path = f"/api/agents/{agent_id}/webhook_endpoint"
    return mutation("PUT", path, token, body, WebhookEndpoint.of)


def rotate_signing_key(
    token: str, agent_id: str, overlap_seconds: int | None = None
) -> Call[SigningKeys]:
    path = f"/api/agents/{agent_id}/webhook_endpoint/signing_keys"
    body = given(overlap_seconds=overlap_seconds)
    return mutation("POST", path, token, body, SigningKeys.of)


def signing_keys(token: str, agent_id: str) -> Call[SigningKeys]:
    return read(f"/api/agents/{agent_id}/webhook_endpoint/signing_keys", token, SigningKeys.of)


def set_sender_policy(
    token: str,
    agent_id: str,
    effect: Literal["allow", "block"],
    *,
    sender_agent_id: str | None = None,
    sender_account_id: str | None = None,
) -> Call[SenderPolicy]:
    """One target: a sender agent or a sender account (the carrier refuses both or none)."""
    body = given(
        effect=effect, sender_agent_id=sender_agent_id, sender_account_id=sender_account_id
    )
    path = f"/api/agents/{agent_id}/sender_policies"
    return mutation("PUT", path, token, body, SenderPolicy.of)


# -- messages, claims and ACKs ------------------------------------------------------


def send(token: str, to: Recipients, payload: dict[str, Any]) -> Call[Sent]:
    """To one address of this carrier: the message's status; to another domain's
    address, or to a list: the AMTP message's (``AmtpSent``)."""
    body: dict[str, Any] = {"to": to} if isinstance(to, str) else {"recipients": list(to)}
    body["payload"] = payload
    return mutation("POST", "/api/messages", token, body, sent)


def send_batch(token: str, messages: Sequence[dict[str, Any]]) -> Call[tuple[BatchResult, ...]]:
    """Up to the carrier's batch limit (500) of ``{"to", "payload", "idempotency_key"?}``;
    an item without a key is keyed by this call's key and its index."""
    body = {"messages": list(messages)}
    return mutation("POST", "/api/messages/batch", token, body, BatchResult.all_of)


def ack_batch(token: str, acks: Sequence[dict[str, Any]]) -> Call[tuple[BatchResult, ...]]:
    """Up to the carrier's batch limit (500) of ``{"delivery_id", "status", "payload"?,
    "idempotency_key"?}``; an item without a key is keyed by this call's key and index."""
    return mutation("POST", "/api/deliveries/acks", token, {"acks": list(acks)}, BatchResult.all_of)


def status(token: str, message_id: str) -> Call[MessageStatus]:
    return read(f"/api/messages/{message_id}", token, MessageStatus.of)


def workflow(token: str, workflow_id: str) -> Call[Workflow]:
    """An AMTP workflow's state (its initiator, or the initiator's account)."""
    return read(f"/api/workflows/{workflow_id}", token, Workflow.of)


def claim(token: str, lease_seconds: int = 60, wait_seconds: int = 0) -> Call[Claim | None]:
    body = {"lease_seconds": lease_seconds, "wait_seconds": wait_seconds}
    return mutation("POST", "/api/inbox/claims", token, body, Claim.of_optional)


def claim_batch(
    token: str, most: int, lease_seconds: int = 60, wait_seconds: int = 0
) -> Call[tuple[Claim, ...]]:
    """Up to ``most`` messages (at most the carrier's batch limit, 500), oldest first,
    each on its own lease; none if none is claimable within ``wait_seconds``."""
    body = {"max": most, "lease_seconds": lease_seconds, "wait_seconds": wait_seconds}
    return mutation("POST", "/api/inbox/claims", token, body, Claim.all_of)


def extend_lease(token: str, delivery_id: str, lease_seconds: int = 60) -> Call[Claim]:
    """Add ``lease_seconds`` to the lease's current end (not to now)."""
    path = f"/api/deliveries/{delivery_id}/extend"
    return mutation("POST", path, token, {"lease_seconds": lease_seconds}, Claim.of)


def ack(
    token: str, delivery_id: str, status: str, payload: dict[str, Any] | None = None
) -> Call[MessageStatus]:
    body: dict[str, Any] = {"status": status}
    if payload is not None:
        body["payload"] = payload
    path = f"/api/deliveries/{delivery_id}/acks"
    return mutation("POST", path, token, body, MessageStatus.of_ack)


# -- dead letters -------------------------------------------------------------------


def dead_letters(
    token: str, after: str | None = None, limit: int | None = None
) -> Call[DeadLetterPage]:
    return read("/api/dead_letters", token, DeadLetterPage.of, after=after, limit=limit)


def redrive_dead_letter(token: str, message_id: str) -> Call[MessageStatus]:
    """A fresh webhook delivery of a parked message (attempts start from one)."""
    path = f"/api/dead_letters/{message_id}/redrive"
    return mutation("POST", path, token, {}, MessageStatus.of)


def release_dead_letter(token: str, message_id: str) -> Call[MessageStatus]:
    """Back to the inbox, for polling claims only."""
    path = f"/api/dead_letters/{message_id}/release"
    return mutation("POST", path, token, {}, MessageStatus.of)


# -- sessions -----------------------------------------------------------------------


def open_session(token: str, to: str, payload: dict[str, Any]) -> Call[SessionView]:
    body = {"to": to, "payload": payload}
    return mutation("POST", "/api/sessions", token, body, SessionView.of)


def answer_session(
    token: str, session_id: str, accept: bool, payload: dict[str, Any] | None = None
) -> Call[SessionView]:
    verb = "accept" if accept else "reject"
    body = {} if payload is None else {"payload": payload}
    return mutation("POST", f"/api/sessions/{session_id}/{verb}", token, body, SessionView.of)


def send_turn(token: str, session_id: str, payload: dict[str, Any]) -> Call[SessionView]:
    path = f"/api/sessions/{session_id}/messages"
    return mutation("POST", path, token, {"payload": payload}, SessionView.of)


def close_session(token: str, session_id: str) -> Call[SessionView]:
    path = f"/api/sessions/{session_id}/close"
    return mutation("POST", path, token, {}, SessionView.of)


def session(
    token: str, session_id: str, after_sequence: int | None = None, limit: int | None = None
) -> Call[SessionView]:
    """The session and its transcript (``limit`` pages it, after ``after_sequence``)."""
    path = f"/api/sessions/{session_id}"
    return read(path, token, SessionView.of, after_sequence=after_sequence, limit=limit)


def sessions(
    token: str, status: str | None = None, after: str | None = None, limit: int | None = None
) -> Call[SessionPage]:
    return read("/api/sessions", token, SessionPage.of, status=status, after=after, limit=limit)


# -- the audit trail (docs/audit.md) --------------------------------------------------


def events(
    token: str,
    after: str | None = None,
    limit: int | None = None,
    *,
    type: str | None = None,
    message: str | None = None,
    session: str | None = None,
    agent: str | None = None,
) -> Call[EventPage]:
    """The audit records the key may see, after the cursor ``after``."""
    return read(
        "/api/events",
        token,
        EventPage.of,
        after=after,
        limit=limit,
        type=type,
        message=message,
        session=session,
        agent=agent,
    )


def message_history(token: str, message_id: str) -> Call[MessageHistory]:
    return read(f"/api/messages/{message_id}/history", token, MessageHistory.of)


def issue_auditor_key(token: str) -> Call[AuditorKey]:
    """A read-only key of the account's audit trail (an account key issues it)."""
    return mutation("POST", "/api/auditor_keys", token, {}, AuditorKey.of)


# -- replays (docs/api.md, "Replays") -------------------------------------------------


def replay_message(
    token: str,
    message_id: str,
    target: Literal["webhook", "inbox"] = "webhook",
    *,
    idempotency_key: str | None = None,
) -> Call[Replay]:
    """Hand one message the caller received out again: pushed to its webhook endpoint
    now, or claimable once more from its inbox."""
    path = f"/api/messages/{message_id}/replay"
    return mutation("POST", path, token, {"target": target}, Replay.of, idempotency_key)


def start_replay(
    token: str,
    *,
    target: Literal["webhook", "inbox"] = "webhook",
    since: datetime | str | None = None,
    until: datetime | str | None = None,
    status: Sequence[str] | str | None = None,
    sender: str | None = None,
    session: str | None = None,
    rate_per_second: float | None = None,
    name: str | None = None,
    idempotency_key: str | None = None,
) -> Call[Replay]:
    """Hand out again every message the caller was handed that matches the filter (no
    filter: all of them), at most ``rate_per_second`` (the carrier's default: 10).

    Raises:
        ValueError: a ``since`` or ``until`` datetime without a time zone.
    """
    if isinstance(status, str):
        status = [status]
    selection = given(
        since=_moment(since),
        until=_moment(until),
        status=None if status is None else list(status),
        sender=sender,
        session=session,
    )
    body: dict[str, Any] = {"target": target}
    if selection:
        body["filter"] = selection
    body.update(given(rate_per_second=rate_per_second, name=name))
    return mutation("POST", "/api/replays", token, body, Replay.of, idempotency_key)


def _moment(value: datetime | str | None) -> str | None:
    if not isinstance(value, datetime):
        return value
    if value.tzinfo is None:
        raise ValueError(f"a replay's since and until need a time zone: {value!r}")
    return value.isoformat()


def replay(token: str, replay_id: str) -> Call[Replay]:
    """A replay and its progress (the agent that started it, or its account)."""
    return read(f"/api/replays/{replay_id}", token, Replay.of)


def cancel_replay(
    token: str, replay_id: str, *, idempotency_key: str | None = None
) -> Call[Replay]:
    """Stop a running replay before its next message (a cancelled one answers the same)."""
    path = f"/api/replays/{replay_id}/cancel"
    return mutation("POST", path, token, {}, Replay.of, idempotency_key)
