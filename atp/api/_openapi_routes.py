"""Every route the carrier serves, as data: who may call it, what it reads, what it answers.

``tests/api/test_openapi.py`` compares this table with the app's URL map, so a route
cannot be served without being described here. _Errors are listed as the classes of
``atp.errors``: their status and code come from there, never retyped.
"""

from __future__ import annotations

from typing import Any

import attrs

from atp.errors import (
    AccountKeyRequired,
    AckStatusRequired,
    AgentKeyRequired,
    AtpError,
    DeliveryInProgress,
    DeliveryNotDelivered,
    IdempotencyConflict,
    IdempotencyInProgress,
    IdempotencyKeyRequired,
    InvalidA2AMessage,
    InvalidAccount,
    InvalidAckStatus,
    InvalidAckTransition,
    InvalidLease,
    InvalidRequest,
    InvalidSenderPolicy,
    InvalidSessionRecipient,
    InvalidWebhookAuthentication,
    InvalidWebhookUrl,
    LeaseExpired,
    MessageExpired,
    NotDeadLettered,
    NotFound,
    PayloadRequired,
    PayloadTooLarge,
    PlanLimitExceeded,
    RecipientNotFound,
    RecipientRequired,
    SessionNotOpen,
    TerminalAckStatus,
    Unauthorized,
    UnknownSenderRateLimited,
    WebhookEndpointInactive,
)

__all__ = ["IDEMPOTENT", "KEYED", "KIND", "ROUTES", "TWO_PHASE", "Route"]

_Errors = tuple[type[AtpError], ...]


@attrs.frozen
class Route:
    """One operation. ``auth``: the key kinds it takes (none: public). ``answers``: status →
    component schema of a success (or of ``/ready``'s 503). ``idempotent``: needs an
    ``Idempotency-Key`` (``"two_phase"``: a concurrent duplicate is ``in_progress``)."""

    method: str
    path: str
    summary: str
    answers: dict[int, str]
    auth: tuple[str, ...] = ()
    idempotent: bool | str = False
    body: str | None = None
    form: bool = False  # every field a string: a form body can carry it
    errors: _Errors = ()
    query: dict[str, dict[str, Any]] = attrs.field(factory=dict)
    links: dict[str, dict[str, str]] = attrs.field(factory=dict)  # operationId → parameters
    required: tuple[str, ...] = ()  # query parameters that must be present
    stream: bool = False
    operator: bool = False  # the operator's ATP_METRICS_TOKEN, when one is configured

    @property
    def operation_id(self) -> str:
        """``GET /api/agents/{agent_id}`` → ``get_api_agents_agent_id``."""
        words = self.path.replace("{", "").replace("}", "").strip("/").replace("/", "_")
        return f"{self.method.lower()}_{words or 'root'}"


_ACCOUNT, _AGENT, _EITHER = ("account",), ("agent",), ("account", "agent")
_READER = ("account", "agent", "auditor")  # the audit trail's readers
_PAYLOAD: _Errors = (PayloadTooLarge, InvalidA2AMessage)
_SEND: _Errors = (RecipientRequired, PayloadRequired, *_PAYLOAD, RecipientNotFound)
_ACK_STATE: _Errors = (
    LeaseExpired,
    DeliveryNotDelivered,
    InvalidAckTransition,
    TerminalAckStatus,
    MessageExpired,
    DeliveryInProgress,
    InvalidSessionRecipient,
)
_TURN: _Errors = (SessionNotOpen, RecipientNotFound, UnknownSenderRateLimited)
_PAGE = {"type": "string", "pattern": "^[0-9]{1,20}$"}
_AFTER = {"type": "string"}
# An audit index, or an RFC 3339 time with its offset: the state then (docs/audit.md).
_AS_OF = {"type": "string", "minLength": 1}


def _id(name: str, pointer: str) -> dict[str, str]:
    return {name: f"$response.body#{pointer}"}


_SESSION_LINKS = {
    f"{verb}": _id("session_id", "/session/id")
    for verb in (
        "get_api_sessions_session_id",
        "post_api_sessions_session_id_accept",
        "post_api_sessions_session_id_reject",
        "post_api_sessions_session_id_messages",
        "post_api_sessions_session_id_close",
        "get_api_sessions_session_id_stream",
    )
}

ROUTES: tuple[Route, ...] = (
    Route("GET", "/health", "The process answers.", {200: "Health"}),
    Route("GET", "/ready", "The carrier can serve traffic.", {200: "Ready", 503: "Ready"}),
    Route("GET", "/openapi.json", "This document.", {200: "OpenAPI"}),
    Route(
        "GET",
        "/metrics",
        "Prometheus metrics (docs/operations.md): with ATP_METRICS_TOKEN set, only with"
        " that bearer token; without one, only while the carrier listens on loopback.",
        {200: "Metrics"},
        errors=(Unauthorized, NotFound),
        operator=True,
    ),
    Route(
        "POST",
        "/api/accounts",
        "Sign up: a free account and its account key.",
        {201: "Account"},
        body="AccountRequest",
        form=True,
        errors=(InvalidAccount,),
    ),
    Route(
        "POST",
        "/api/agents",
        "Register an agent; its key is shown once.",
        {201: "AgentCreated"},
        _ACCOUNT,
        True,
        "AgentRequest",
        True,
        (InvalidRequest, PlanLimitExceeded),
        links={
            "get_api_agents_agent_id": _id("agent_id", "/id"),
            "post_api_agents_agent_id_keys": _id("agent_id", "/id"),
        },
    ),
    Route(
        "GET",
        "/api/agents/{agent_id}",
        "An agent of the caller's account.",
        {200: "Agent"},
        _ACCOUNT,
        errors=(NotFound, InvalidRequest),
        query={"as_of": _AS_OF},
    ),
    Route(
        "POST",
        "/api/agents/{agent_id}/keys",
        "Rotate an agent's key (older keys stop at once).",
        {201: "AgentKey"},
        _ACCOUNT,
        True,
        errors=(NotFound,),
    ),
    Route(
        "PUT",
        "/api/agents/{agent_id}/webhook_endpoint",
        "Set the caller's webhook endpoint.",
        {200: "WebhookEndpoint"},
        _AGENT,
        True,
        "WebhookEndpointRequest",
        errors=(NotFound, InvalidWebhookUrl, InvalidWebhookAuthentication),
    ),
    Route(
        "POST",
        "/api/agents/{agent_id}/webhook_endpoint/signing_keys",
        "Add an Ed25519 signing key; the old one signs on for overlap_seconds.",
        {201: "SigningKeys"},
        _AGENT,
        True,
        "SigningKeyRotationRequest",
        errors=(NotFound, InvalidRequest),
    ),
    Route(
        "GET",
        "/api/agents/{agent_id}/webhook_endpoint/signing_keys",
        "The public keys that sign the agent's pushes.",
        {200: "SigningKeys"},
        _EITHER,
        errors=(NotFound,),
    ),
    Route(
        "PUT",
        "/api/agents/{agent_id}/sender_policies",
        "Allow or block a sender.",
        {200: "SenderPolicy"},
        _AGENT,
        True,
        "SenderPolicyRequest",
        True,
        (NotFound, InvalidSenderPolicy),
    ),
    Route(
        "POST",
        "/api/messages",
        "Send an A2A message.",
        {201: "MessageStatus"},
        _AGENT,
        "two_phase",
        "SendRequest",
        errors=(*_SEND, UnknownSenderRateLimited),
        links={
            "get_api_messages_message_id": _id("message_id", "/message/id"),
            "post_api_inbox_claims": {},
        },
    ),
    Route(
        "GET",
        "/api/messages/{message_id}",
        "A message's status (sender, recipient, their accounts and auditor keys).",
        {200: "MessageStatus"},
        _READER,
        errors=(NotFound, InvalidRequest),
        query={"as_of": _AS_OF},
    ),
    Route(
        "POST",
        "/api/inbox/claims",
        "Claim the oldest claimable message, or with max up to that many (each a lease); "
        "wait_seconds holds the claim open until one is claimable.",
        {201: "ClaimAnswer", 200: "NoClaimAnswer"},
        _AGENT,
        True,
        "ClaimRequest",
        errors=(InvalidLease, InvalidRequest),
        links={
            "post_api_deliveries_delivery_id_acks": _id("delivery_id", "/id"),
            "post_api_deliveries_delivery_id_extend": _id("delivery_id", "/id"),
            "get_api_messages_message_id": _id("message_id", "/message/id"),
        },
    ),
    Route(
        "GET",
        "/api/inbox/stream",
        "A streaming consumer: deliveries pushed as Server-Sent Events as they arrive, at "
        "most credit unACKed at a time, leases renewed while connected and released when "
        "the consumer goes.",
        {200: "InboxStream"},
        _AGENT,
        errors=(InvalidRequest,),
        query={"credit": _PAGE, "lease_seconds": _PAGE},
    ),
    Route(
        "POST",
        "/api/deliveries/{delivery_id}/extend",
        "Extend a polling lease.",
        {200: "Claim"},
        _AGENT,
        True,
        "LeaseRequest",
        errors=(NotFound, InvalidLease, LeaseExpired),
    ),
    Route(
        "POST",
        "/api/deliveries/{delivery_id}/acks",
        "ACK a delivery.",
        {201: "Ack"},
        _AGENT,
        True,
        "AckRequest",
        errors=(NotFound, AckStatusRequired, InvalidAckStatus, *_PAYLOAD, *_ACK_STATE),
        links={"get_api_messages_message_id": _id("message_id", "/ack/message_id")},
    ),
    Route(
        "POST",
        "/api/sessions",
        "Open a session: the opening message is sequence 1.",
        {201: "SessionMessage"},
        _AGENT,
        "two_phase",
        "SendRequest",
        errors=(*_SEND, InvalidSessionRecipient, UnknownSenderRateLimited),
        links=_SESSION_LINKS,
    ),
    Route(
        "GET",
        "/api/sessions",
        "The caller's sessions, oldest first.",
        {200: "Sessions"},
        _AGENT,
        errors=(InvalidRequest,),
        query={"status": {"type": "string"}, "after": _AFTER, "limit": _PAGE},
    ),
    Route(
        "GET",
        "/api/sessions/{session_id}",
        "A session and its transcript (participants).",
        {200: "Transcript"},
        _AGENT,
        errors=(NotFound, InvalidRequest),
        query={"after_sequence": _PAGE, "limit": _PAGE, "as_of": _AS_OF},
    ),
    Route(
        "GET",
        "/api/sessions/{session_id}/stream",
        "The session as Server-Sent Events.",
        {200: "EventStream"},
        _AGENT,
        errors=(NotFound, InvalidRequest),
        stream=True,
    ),
    *(
        Route(
            "POST",
            f"/api/sessions/{{session_id}}/{verb}",
            f"The recipient {verb}s the session.",
            {201: "Ack"},
            _AGENT,
            True,
            "AnswerRequest",
            errors=(NotFound, *_PAYLOAD, *_ACK_STATE),
        )
        for verb in ("accept", "reject")
    ),
    Route(
        "POST",
        "/api/sessions/{session_id}/messages",
        "Send the next turn of an open session.",
        {201: "SessionMessage"},
        _AGENT,
        "two_phase",
        "TurnRequest",
        errors=(NotFound, PayloadRequired, *_PAYLOAD, *_TURN),
    ),
    Route(
        "POST",
        "/api/sessions/{session_id}/close",
        "Either participant ends the session.",
        {200: "SessionOnly"},
        _AGENT,
        True,
        errors=(NotFound, SessionNotOpen),
    ),
    Route(
        "GET",
        "/api/dead_letters",
        "The caller's dead letters, oldest first.",
        {200: "DeadLetters"},
        _AGENT,
        errors=(InvalidRequest,),
        query={"after": _AFTER, "limit": _PAGE},
    ),
    *(
        Route(
            "POST",
            f"/api/dead_letters/{{message_id}}/{verb}",
            summary,
            {200: "MessageStatus"},
            _AGENT,
            True,
            errors=(NotFound, NotDeadLettered, MessageExpired, WebhookEndpointInactive),
        )
        for verb, summary in (
            ("redrive", "Push a dead letter again, with a fresh webhook delivery."),
            ("release", "Move a dead letter to the inbox, for polling claims."),
        )
    ),
)


# Every route may answer these, besides its own.
KEYED: _Errors = (Unauthorized,)
KIND = {
    _ACCOUNT: (AccountKeyRequired,),
    _AGENT: (AgentKeyRequired,),
    _EITHER: (),
    _READER: (),
}
IDEMPOTENT: _Errors = (IdempotencyKeyRequired, IdempotencyConflict)
TWO_PHASE: _Errors = (IdempotencyInProgress,)
