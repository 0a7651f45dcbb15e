"""Audit records: what each stored event of the ledger says, in a form anyone can hash.

A record is the JSON object ``{"v": 1, "index", "type", "at", "aggregate": {"type",
"id"}, "version", "actor", "data"}``. Its bytes are its RFC 8785 (JCS) canonical form,
and its leaf in the Merkle log is SHA-256(0x00 ‖ those bytes). The format is frozen:
``TYPES`` maps every event topic to its record type once and for all (a golden file
holds the table), and a change of shape is a new ``v``.

``data`` keeps the facts and never a secret or a payload: tokens appear as their key
ids, sealed secrets not at all, a webhook URL (it may carry credentials) as its host
and its SHA-256, and a message's or an ACK's payload as ``payload_sha256``, the hex
SHA-256 of its JCS form, so that erasing a payload later leaves every proof valid.

A record names its aggregate by wire id (``msg_…``) and the principal that caused the
event (``actor``), which most events do not carry: the :class:`Directory` remembers,
from the aggregates' first events, what the later ones need. Records are made in log
order, so a record only ever depends on the events before it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

import attrs

from atp.audit._canonical import payload_sha256, record_bytes
from atp.audit._directory import Directory, Entry
from atp.audit._merkle import leaf_hash
from atp.domain import aggregate_id
from atp.wire import SAFE_ERRORS
from atp.wire import iso as _iso

__all__ = [
    "CARRIER",
    "FORMAT_VERSION",
    "TYPES",
    "Directory",
    "Entry",
    "Record",
    "first_entry",
    "make_record",
]

FORMAT_VERSION = 1
CARRIER = "carrier"  # the actor of timers, retries and policy decisions

# Event topic -> record type. Frozen: a stored event keeps its record type forever.
TYPES: Mapping[str, str] = {
    "atp.domain._account:Account.Opened": "account.opened",
    "atp.domain._account:Account.AgentAdmitted": "account.agent_admitted",
    "atp.domain._account:Account.AuditorKeyIssued": "account.auditor_key_issued",
    "atp.domain._account:Account.PayloadRead": "account.payload_read",
    "atp.domain._agent:Agent.Registered": "agent.registered",
    "atp.domain._agent:Agent.KeyRotated": "agent.key_rotated",
    "atp.domain._agent:Agent.WebhookEndpointSet": "agent.webhook_endpoint_set",
    "atp.domain._agent:Agent.WebhookEndpointDisabled": "agent.webhook_endpoint_disabled",
    "atp.domain._agent:Agent.SigningKeyRotated": "agent.signing_key_rotated",
    "atp.domain._agent:Agent.SenderPolicySet": "agent.sender_policy_set",
    "atp.domain._idempotency:IdempotencyRecord.Recorded": "idempotency.recorded",
    "atp.domain._message:Message.Sent": "message.sent",
    "atp.domain._message:Message.Rejected": "message.rejected",
    "atp.domain._message:Message.Expired": "message.expired",
    "atp.domain._message:Message.WebhookDeliveryScheduled": "delivery.webhook_scheduled",
    "atp.domain._message:Message.DeliveryLeased": "delivery.leased",
    "atp.domain._message:Message.LeaseExtended": "delivery.lease_extended",
    "atp.domain._message:Message.WebhookDeliveryClaimed": "webhook.attempt_started",
    "atp.domain._message:Message.WebhookAttemptRecorded": "webhook.attempt_recorded",
    "atp.domain._message:Message.WebhookDeliveryEnded": "delivery.dead_lettered",
    "atp.domain._message:Message.DeadLetterRedriven": "dead_letter.redriven",
    "atp.domain._message:Message.DeadLetterReleased": "dead_letter.released",
    "atp.domain._message:Message.AckRecorded": "ack.recorded",
    "atp.domain._session:Session.Requested": "session.requested",
    "atp.domain._session:Session.TurnAppended": "session.turn_appended",
    "atp.domain._session:Session.Accepted": "session.accepted",
    "atp.domain._session:Session.Rejected": "session.rejected",
    "atp.domain._session:Session.Failed": "session.failed",
    "atp.domain._session:Session.Closed": "session.closed",
}


@attrs.frozen
class Record:
    """One audit record: its object, its canonical bytes, its leaf hash, and what the
    event store's index columns need (who may see it, what it concerns)."""

    index: int
    type: str
    body: dict[str, Any]
    canonical: bytes
    leaf_hash: bytes
    entry: Entry
    message_id: str | None
    session_id: str | None


def _url_facts(url: str) -> dict[str, Any]:
    """A webhook URL may carry credentials (user info, a query token): its host and hash."""
    try:
        host = urlsplit(url).hostname
    except ValueError:
        host = None
    return {"url_host": host, "url_sha256": hashlib.sha256(url.encode()).hexdigest()}


# Each handler returns (actor, data) for one event class, reading the directory entry
# of the event's aggregate (the directory already holds the aggregate's first event).
_Handler = Callable[[Any, Entry, Directory], tuple[str, dict[str, Any]]]


def _recipient(entry: Entry) -> str:
    return entry.agents[-1] if entry.agents else CARRIER


def _account_opened(e: Any, entry: Entry, d: Directory) -> tuple[str, dict[str, Any]]:
    return entry.wire_id, {"name": e.name, "plan": e.plan, "key_id": e.key_id}


def _agent_admitted(e: Any, entry: Entry, d: Directory) -> tuple[str, dict[str, Any]]:
    return entry.wire_id, {"agent_id": e.agent_id}


def _auditor_key_issued(e: Any, entry: Entry, d: Directory) -> tuple[str, dict[str, Any]]:
    return entry.wire_id, {"key_id": e.key_id, "role": "auditor"}


def _payload_read(e: Any, entry: Entry, d: Directory) -> tuple[str, dict[str, Any]]:
    return entry.wire_id, {"key_id": e.key_id, "message_id": e.message_id}


def _agent_registered(e: Any, entry: Entry, d: Directory) -> tuple[str, dict[str, Any]]:
    data = {
        "account_id": e.account_id,
        "display_name": e.display_name,
        "description": e.description,
        "key_id": e.key_id,
    }
    return e.account_id, data


def _key_rotated(e: Any, entry: Entry, d: Directory) -> tuple[str, dict[str, Any]]:
    return entry.accounts[0], {"key_id": e.key_id}


def _endpoint_set(e: Any, entry: Entry, d: Directory) -> tuple[str, dict[str, Any]]:
    data = {**_url_facts(e.url), "authorization": e.sealed_authorization is not None}
    return entry.wire_id, data


def _endpoint_disabled(e: Any, entry: Entry, d: Directory) -> tuple[str, dict[str, Any]]:
    return CARRIER, {"reason": e.reason}


def _signing_key_rotated(e: Any, entry: Entry, d: Directory) -> tuple[str, dict[str, Any]]:
    data = {
        "key_id": e.key_id,
        "public_key": e.public_key,
        "previous_retire_at": _iso(e.previous_retire_at),
    }
    return entry.wire_id, data


def _policy_set(e: Any, entry: Entry, d: Directory) -> tuple[str, dict[str, Any]]:
    data = {
        "policy_id": e.policy_id,
        "effect": e.effect,
        "sender_agent_id": e.sender_agent_id,
        "sender_account_id": e.sender_account_id,
    }
    return entry.wire_id, data


def _idempotency(e: Any, entry: Entry, d: Directory) -> tuple[str, dict[str, Any]]:
    _, kind, principal, route, key = e.scope.split("|", 4)
    data = {
        "principal_type": kind,
        "route": route,
        "key_sha256": hashlib.sha256(key.encode()).hexdigest(),
        "request_sha256": e.request_hash,
        "status": e.status,
    }
    return principal, data


def _sent(e: Any, entry: Entry, d: Directory) -> tuple[str, dict[str, Any]]:
    data = {
        "sender_agent_id": e.sender_agent_id,
        "sender_account_id": e.sender_account_id,
        "recipient_agent_id": e.recipient_agent_id,
        "recipient_account_id": e.recipient_account_id,
        "trust": e.trust,
        "payload_sha256": payload_sha256(e.payload),
        "expires_at": _iso(e.expires_at),
        "session_id": e.session_id,
        "session_sequence": e.session_sequence,
    }
    return e.sender_agent_id, data


def _by_carrier(e: Any, entry: Entry, d: Directory) -> tuple[str, dict[str, Any]]:
    return CARRIER, {}


def _webhook_scheduled(e: Any, entry: Entry, d: Directory) -> tuple[str, dict[str, Any]]:
    return CARRIER, {"delivery_id": e.delivery_id, "max_attempts": e.max_attempts}


def _leased(e: Any, entry: Entry, d: Directory) -> tuple[str, dict[str, Any]]:
    return _recipient(entry), {"delivery_id": e.delivery_id, "leased_until": _iso(e.leased_until)}


def _attempt_started(e: Any, entry: Entry, d: Directory) -> tuple[str, dict[str, Any]]:
    data = {
        "delivery_id": e.delivery_id,
        "attempt_number": e.attempt_number,
        "leased_until": _iso(e.leased_until),
    }
    return CARRIER, data


def _attempt_recorded(e: Any, entry: Entry, d: Directory) -> tuple[str, dict[str, Any]]:
    # As the status document shows it: a named error class, else "internal_error".
    error = e.error if e.error is None or e.error in SAFE_ERRORS else "internal_error"
    data = {
        "delivery_id": e.delivery_id,
        "attempt_id": e.attempt_id,
        "attempt_number": e.attempt_number,
        "result": e.result,
        "response_status": e.response_status,
        "error": error,
        "next_attempt_at": _iso(e.next_attempt_at),
    }
    return CARRIER, data


def _delivery_ended(e: Any, entry: Entry, d: Directory) -> tuple[str, dict[str, Any]]:
    return CARRIER, {"delivery_id": e.delivery_id, "reason": e.reason}


def _redriven(e: Any, entry: Entry, d: Directory) -> tuple[str, dict[str, Any]]:
    return _recipient(entry), {"delivery_id": e.delivery_id, "max_attempts": e.max_attempts}


def _released(e: Any, entry: Entry, d: Directory) -> tuple[str, dict[str, Any]]:
    return _recipient(entry), {}


def _ack(e: Any, entry: Entry, d: Directory) -> tuple[str, dict[str, Any]]:
    if entry.session_id is not None and not entry.answered:
        entry.answered = True
        d.remember(e.originator_id, entry)
    data = {
        "ack_id": e.ack_id,
        "delivery_id": e.delivery_id,
        "status": e.status,
        "payload_sha256": payload_sha256(e.payload),
    }
    return _recipient(entry), data


def _session_requested(e: Any, entry: Entry, d: Directory) -> tuple[str, dict[str, Any]]:
    data = {
        "initiator_agent_id": e.initiator_agent_id,
        "initiator_account_id": e.initiator_account_id,
        "recipient_agent_id": e.recipient_agent_id,
        "recipient_account_id": e.recipient_account_id,
        "opening_message_id": e.opening_message_id,
    }
    return e.initiator_agent_id, data


def _turn_appended(e: Any, entry: Entry, d: Directory) -> tuple[str, dict[str, Any]]:
    message = d.get(aggregate_id(e.message_id))
    actor = message.agents[0] if message is not None and message.agents else CARRIER
    return actor, {"message_id": e.message_id, "sequence": e.sequence}


def _session_answered(e: Any, entry: Entry, d: Directory) -> tuple[str, dict[str, Any]]:
    """Accepted, rejected or failed: by the recipient's ACK of the opening, or by the
    carrier (a sender policy refused it, or it expired unanswered)."""
    opening = d.get(aggregate_id(entry.opening)) if entry.opening else None
    return (_recipient(entry) if opening is not None and opening.answered else CARRIER), {}


def _session_closed(e: Any, entry: Entry, d: Directory) -> tuple[str, dict[str, Any]]:
    return e.by_agent_id, {"by_agent_id": e.by_agent_id}


_HANDLERS: Mapping[str, _Handler] = {
    "account.opened": _account_opened,
    "account.agent_admitted": _agent_admitted,
    "account.auditor_key_issued": _auditor_key_issued,
    "account.payload_read": _payload_read,
    "agent.registered": _agent_registered,
    "agent.key_rotated": _key_rotated,
    "agent.webhook_endpoint_set": _endpoint_set,
    "agent.webhook_endpoint_disabled": _endpoint_disabled,
    "agent.signing_key_rotated": _signing_key_rotated,
    "agent.sender_policy_set": _policy_set,
    "idempotency.recorded": _idempotency,
    "message.sent": _sent,
    "message.rejected": _by_carrier,
    "message.expired": _by_carrier,
    "delivery.webhook_scheduled": _webhook_scheduled,
    "delivery.leased": _leased,
    "delivery.lease_extended": _leased,
    "webhook.attempt_started": _attempt_started,
    "webhook.attempt_recorded": _attempt_recorded,
    "delivery.dead_lettered": _delivery_ended,
    "dead_letter.redriven": _redriven,
    "dead_letter.released": _released,
    "ack.recorded": _ack,
    "session.requested": _session_requested,
    "session.turn_appended": _turn_appended,
    "session.accepted": _session_answered,
    "session.rejected": _session_answered,
    "session.failed": _session_answered,
    "session.closed": _session_closed,
}
assert set(_HANDLERS) == set(TYPES.values())


def first_entry(topic: str, e: Any) -> Entry:
    """The directory entry an aggregate's first event (of ``topic``) makes."""
    record_type = TYPES[topic]
    if record_type == "account.opened":
        return Entry("account", e.account_id, (), (e.account_id,))
    if record_type == "agent.registered":
        return Entry("agent", e.agent_id, (e.agent_id,), (e.account_id,))
    if record_type == "message.sent":
        accounts = tuple(dict.fromkeys((e.sender_account_id, e.recipient_account_id)))
        agents = (e.sender_agent_id, e.recipient_agent_id)
        return Entry("message", e.message_id, agents, accounts, session_id=e.session_id)
    if record_type == "session.requested":
        accounts = tuple(dict.fromkeys((e.initiator_account_id, e.recipient_account_id)))
        agents = (e.initiator_agent_id, e.recipient_agent_id)
        return Entry("session", e.session_id, agents, accounts, e.session_id, e.opening_message_id)
    if record_type == "idempotency.recorded":
        account, kind, principal = e.scope.split("|", 3)[:3]
        principal_agents: tuple[str, ...] = (principal,) if kind == "agent" else ()
        return Entry("idempotency", str(e.originator_id), principal_agents, (account,))
    raise ValueError(f"{record_type} does not start an aggregate")


def make_record(index: int, topic: str, event: Any, directory: Directory) -> Record:
    """The audit record of ``event``, the ``index``-th event of the log.

    Raises:
        KeyError: an event topic with no record type, or an event whose aggregate the
            directory does not know (its first event was never recorded).
    """
    record_type = TYPES[topic]
    aggregate_id: UUID = event.originator_id
    if event.originator_version == 1:
        entry = first_entry(topic, event)
        directory.add(aggregate_id, entry)
    else:
        found = directory.get(aggregate_id)
        if found is None:
            raise KeyError(f"the first event of aggregate {aggregate_id} is not in the log")
        entry = found
    actor, data = _HANDLERS[record_type](event, entry, directory)
    at = getattr(event, "at", None) or event.timestamp
    body = {
        "v": FORMAT_VERSION,
        "index": index,
        "type": record_type,
        "at": _iso(at),
        "aggregate": {"type": entry.kind, "id": entry.wire_id},
        "version": event.originator_version,
        "actor": actor,
        "data": data,
    }
    encoded = record_bytes(body)
    message_id = entry.wire_id if entry.kind == "message" else None
    return Record(
        index, record_type, body, encoded, leaf_hash(encoded), entry, message_id, entry.session_id
    )
