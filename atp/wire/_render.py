"""The contract's response shapes, rendered from aggregates.

One renderer per shape, used by the actors (for the response they answer and store
for idempotent replay) and by the projections (for the documents reads return), so
a status read and a write's response can never disagree.
"""

from __future__ import annotations

import functools
import json
from datetime import datetime
from typing import Any

from atp.domain import (
    ADDRESS_PREFIX,
    Ack,
    Agent,
    Delivery,
    Message,
    Replay,
    SenderPolicy,
    Session,
    SigningKey,
)

__all__ = [
    "SAFE_ERRORS",
    "ack_document",
    "agent_document",
    "claim_document",
    "iso",
    "message_envelope",
    "message_status",
    "push_body",
    "replay_document",
    "sender_policy_document",
    "session_document",
    "session_object",
    "signing_key_document",
    "viewer_document",
]

# Error classes a status may show (contract §1.8); anything else reads "internal_error".
SAFE_ERRORS = frozenset(
    {
        "a2a_error",
        "a2a_invalid_answer",
        "bad_alpn_protocol",
        "closed",
        "internal_error",
        "internal_task_exit",
        "interrupted",
        "message_acked",
        "message_expired",
        "nxdomain",
        "timeout",
        "transport_error",
        "unsafe_webhook_url",
        "webhook_endpoint_inactive",
    }
)


def iso(moment: datetime | None) -> str | None:
    """ISO-8601 UTC with microseconds and ``Z``, as the contract writes every timestamp."""
    if moment is None:
        return None
    # Keyed by the wall-clock fields: aware datetimes compare (and hash) by instant.
    return _iso(moment.replace(tzinfo=None))


# A message's times are written three or four times each (its reply, its status
# document, its view row): formatting one costs more than finding it here.
@functools.lru_cache(maxsize=4096)
def _iso(wall_clock: datetime) -> str:
    return wall_clock.isoformat(timespec="microseconds") + "Z"


def message_envelope(message: Message) -> dict[str, Any]:
    """The message object: exactly the contract's keys (session keys only for session messages)."""
    envelope = {
        "id": message.message_id,
        "from": ADDRESS_PREFIX + message.sender_agent_id,
        "to": ADDRESS_PREFIX + message.recipient_agent_id,
        "trust": message.trust,
        "payload": message.payload,
        "content_type": "application/a2a+json",
        "a2a_version": "1.0",
        "created_at": iso(message.created_at),
        "expires_at": iso(message.expires_at),
    }
    if message.session_id is not None:
        envelope["session_id"] = message.session_id
        envelope["session_sequence"] = message.session_sequence
    return envelope


_COMPACT_JSON = json.JSONEncoder(separators=(",", ":"))  # json.dumps makes one a call


def push_body(message: Message, delivery_id: str) -> bytes:
    """The body of a webhook push of ``message`` under its delivery ``delivery_id``: every
    attempt's, and a replay's (the same bytes as the original push)."""
    body = {
        "delivery": {"id": delivery_id, "mode": "webhook"},
        "message": message_envelope(message),
    }
    return _COMPACT_JSON.encode(body).encode()


def _safe_error(error: str | None) -> str | None:
    return None if error is None else (error if error in SAFE_ERRORS else "internal_error")


def _delivery(delivery: Delivery) -> dict[str, Any]:
    return {
        "id": delivery.id,
        "mode": delivery.mode,
        "status": delivery.status,
        "claimed_at": iso(delivery.claimed_at),
        "leased_until": iso(delivery.leased_until),
        "attempt_count": delivery.attempt_count,
        "max_attempts": delivery.max_attempts,
        "next_attempt_at": iso(delivery.next_attempt_at),
        "delivered_at": iso(delivery.delivered_at),
        "last_error": _safe_error(delivery.last_error),
        "attempts": [
            {
                "id": a.id,
                "attempt_number": a.attempt_number,
                "response_status": a.response_status,
                "error": _safe_error(a.error),
                "result": a.result,
                "next_attempt_at": iso(a.next_attempt_at),
                "created_at": iso(a.created_at),
                "request_url": a.request_url,
            }
            for a in sorted(delivery.attempts, key=lambda a: a.attempt_number)
        ],
    }


def message_status(message: Message) -> dict[str, Any]:
    """The message-status object as the recipient side sees it (with ``request_url``)."""
    return {
        "message": message_envelope(message),
        "carrier_status": message.carrier_status,
        "ack_status": message.ack_status,
        "terminal_at": iso(message.terminal_at),
        "deliveries": [_delivery(d) for d in message.deliveries],
    }


def viewer_document(document: dict[str, Any], *, recipient_side: bool) -> dict[str, Any]:
    """Narrow a recipient-side status document for its viewer: ``request_url`` is the
    recipient's endpoint, so the sender side never sees it (contract §1.8)."""
    if recipient_side:
        return document
    deliveries = [
        {
            **d,
            "attempts": [{k: v for k, v in a.items() if k != "request_url"} for a in d["attempts"]],
        }
        for d in document["deliveries"]
    ]
    return {**document, "deliveries": deliveries}


def claim_document(message: Message, delivery: Delivery) -> dict[str, Any]:
    """A claim or extend answer: the delivery id, its lease end and the envelope."""
    return {
        "id": delivery.id,
        "leased_until": iso(delivery.leased_until),
        "message": message_envelope(message),
    }


def ack_document(message: Message, ack: Ack) -> dict[str, Any]:
    """An ACK answer: the ACK and the message status after it."""
    return {
        "ack": {
            "id": ack.id,
            "message_id": message.message_id,
            "delivery_id": ack.delivery_id,
            "status": ack.status,
            "payload": ack.payload,
            "created_at": iso(ack.created_at),
        },
        "message_status": message_status(message),
    }


def agent_document(agent: Agent) -> dict[str, Any]:
    """The agent object of ``GET /api/agents/:id`` (with its ``name``, beyond the
    reference, when it has one)."""
    document = {
        "id": agent.agent_id,
        "address": agent.address,
        "display_name": agent.display_name,
        "description": agent.description,
        "active_agent_key_id": agent.active_key_id,
    }
    if agent.name is not None:
        document["name"] = agent.name
    return document


def sender_policy_document(recipient_agent_id: str, policy: SenderPolicy) -> dict[str, Any]:
    """The sender-policy object of ``PUT /api/agents/:id/sender_policies``."""
    return {
        "id": policy["id"],
        "recipient_agent_id": recipient_agent_id,
        "sender_agent_id": policy["sender_agent_id"],
        "sender_account_id": policy["sender_account_id"],
        "effect": policy["effect"],
        "updated_at": iso(policy["updated_at"]),
    }


def signing_key_document(key: SigningKey) -> dict[str, Any]:
    """A public signing key, as receivers fetch it to verify ``v1a`` signatures."""
    return {
        "id": key["id"],
        "public_key": key["public_key"],
        "created_at": iso(key["created_at"]),
        "retires_at": iso(key["retires_at"]),
    }


def session_document(session: Session) -> dict[str, Any]:
    """The session object (contract §1.10); ``status`` may also read ``closed``."""
    return session_object(
        session.session_id,
        session.status,
        session.initiator_agent_id,
        session.recipient_agent_id,
        session.opening_message_id,
        session.last_sequence,
        iso(session.opened_at),
        iso(session.terminal_at),
        iso(session.created_at),
    )


def session_object(
    session_id: str,
    status: str,
    initiator_agent_id: str,
    recipient_agent_id: str,
    opening_message_id: str,
    last_sequence: int,
    opened_at: str | None,
    terminal_at: str | None,
    created_at: str | None,
) -> dict[str, Any]:
    """The session object's one shape, for the aggregate and for the sessions view."""
    return {
        "id": session_id,
        "status": status,
        "initiator_agent_id": initiator_agent_id,
        "recipient_agent_id": recipient_agent_id,
        "initiator": ADDRESS_PREFIX + initiator_agent_id,
        "recipient": ADDRESS_PREFIX + recipient_agent_id,
        "opening_message_id": opening_message_id,
        "last_sequence": last_sequence,
        "opened_at": opened_at,
        "terminal_at": terminal_at,
        "created_at": created_at,
    }


def replay_document(replay: Replay) -> dict[str, Any]:
    """A replay and its progress: ``done`` counts every item handled, so it reaches
    ``total`` when the replay completes."""
    counts = replay.counts
    return {
        "id": replay.replay_id,
        "name": replay.name,
        "agent_id": replay.agent_id,
        "target": replay.target,
        "filter": replay.filter,
        "rate_per_second": replay.rate_per_second,
        "state": str(replay.state),
        "total": len(replay.message_ids),
        "done": replay.position,
        "delivered": counts["delivered"],
        "failed": counts["failed"],
        "skipped": counts["skipped"],
        "created_at": iso(replay.created_at),
        "finished_at": iso(replay.finished_at),
    }
