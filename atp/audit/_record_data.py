"""What each audit record type says: its actor and its data, from its event.

One function per record type reads the event and its aggregate's directory entry
(the directory already holds the aggregate's first event) and returns ``(actor,
data)``. ``data`` keeps the facts and never a secret or a payload (see ``_records``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from typing import Any

from atp.audit._amtp_data import AMTP_DATA
from atp.audit._canonical import payload_sha256
from atp.audit._directory import CARRIER, Directory, Entry
from atp.audit._facts import safe_error, url_facts
from atp.domain import aggregate_id
from atp.wire import iso as _iso

__all__ = ["CARRIER", "DATA"]


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
    if getattr(e, "name", None) is not None:  # older records stay as they were
        data["name"] = e.name
    if getattr(e, "supported_schemas", None):
        data["supported_schemas"] = list(e.supported_schemas)
    return e.account_id, data


def _name_claimed(e: Any, entry: Entry, d: Directory) -> tuple[str, dict[str, Any]]:
    return e.account_id, {"name": entry.wire_id, "agent_id": e.agent_id}


def _agent_deactivated(e: Any, entry: Entry, d: Directory) -> tuple[str, dict[str, Any]]:
    return entry.accounts[0], {}


def _key_rotated(e: Any, entry: Entry, d: Directory) -> tuple[str, dict[str, Any]]:
    return entry.accounts[0], {"key_id": e.key_id}


def _endpoint_set(e: Any, entry: Entry, d: Directory) -> tuple[str, dict[str, Any]]:
    data = {**url_facts(e.url), "authorization": e.sealed_authorization is not None}
    if getattr(e, "kind", "webhook") != "webhook":  # older records stay as they were
        data["kind"] = e.kind
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


def _by_sender(e: Any, entry: Entry, d: Directory) -> tuple[str, dict[str, Any]]:
    return (entry.agents[0] if entry.agents else CARRIER), {}


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
    data = {
        "delivery_id": e.delivery_id,
        "attempt_id": e.attempt_id,
        "attempt_number": e.attempt_number,
        "result": e.result,
        "response_status": e.response_status,
        "error": safe_error(e.error),
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


def _replay_attempt_started(e: Any, entry: Entry, d: Directory) -> tuple[str, dict[str, Any]]:
    return CARRIER, {"replay_id": e.replay_id, "target": e.target, "delivery_id": e.delivery_id}


def _replay_attempt_recorded(e: Any, entry: Entry, d: Directory) -> tuple[str, dict[str, Any]]:
    data = {
        "replay_id": e.replay_id,
        "result": e.result,
        "response_status": e.response_status,
        "error": safe_error(e.error),
    }
    return CARRIER, data


def _replay_started(e: Any, entry: Entry, d: Directory) -> tuple[str, dict[str, Any]]:
    data = {
        "agent_id": e.agent_id,
        "account_id": e.account_id,
        "target": e.target,
        "filter": e.filter,
        "rate_per_second": e.rate_per_second,
        "name": e.name,
        "total": len(e.message_ids),
        # The matching set, committed to without listing up to 10,000 ids in a record.
        "message_ids_sha256": payload_sha256(e.message_ids),
    }
    return e.agent_id, data


def _replay_item(e: Any, entry: Entry, d: Directory) -> tuple[str, dict[str, Any]]:
    data = {
        "position": e.position,
        "message_id": e.message_id,
        "result": e.result,
        "error": e.error,  # a refusal's code, or an attempt's named error class
    }
    return CARRIER, data


def _replay_cancelled(e: Any, entry: Entry, d: Directory) -> tuple[str, dict[str, Any]]:
    return e.by, {}


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


def _receipts_started(e: Any, entry: Entry, d: Directory) -> tuple[str, dict[str, Any]]:
    data = {
        "message_id": e.message_id,
        "sender_agent_id": e.sender_agent_id,
        "recipient_agent_id": e.recipient_agent_id,
    }
    return e.sender_agent_id, data


def _push_config_set(e: Any, entry: Entry, d: Directory) -> tuple[str, dict[str, Any]]:
    data = {
        "config_id": e.config_id,
        **url_facts(e.url),
        "token": e.sealed_token is not None,
        "scheme": e.scheme,
        "after_version": e.after_version,
    }
    return entry.agents[0], data


def _push_config_deleted(e: Any, entry: Entry, d: Directory) -> tuple[str, dict[str, Any]]:
    actor = CARRIER if e.reason == "gone" else entry.agents[0]
    return actor, {"config_id": e.config_id, "reason": e.reason}


def _receipt_recorded(e: Any, entry: Entry, d: Directory) -> tuple[str, dict[str, Any]]:
    data = {
        "config_id": e.config_id,
        "version": e.version,
        "state": e.state,
        "result": e.result,
        "attempts": e.attempts,
        "response_status": e.response_status,
        "error": safe_error(e.error),
    }
    return CARRIER, data


DATA: Mapping[str, _Handler] = {
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
    "agent.deactivated": _agent_deactivated,
    "idempotency.recorded": _idempotency,
    "message.sent": _sent,
    "message.rejected": _by_carrier,
    "message.expired": _by_carrier,
    "message.canceled": _by_sender,
    "delivery.webhook_scheduled": _webhook_scheduled,
    "delivery.leased": _leased,
    "delivery.lease_extended": _leased,
    "delivery.lease_released": _leased,
    "webhook.attempt_started": _attempt_started,
    "webhook.attempt_recorded": _attempt_recorded,
    "delivery.dead_lettered": _delivery_ended,
    "dead_letter.redriven": _redriven,
    "dead_letter.released": _released,
    "ack.recorded": _ack,
    "replay.attempt_started": _replay_attempt_started,
    "replay.attempt_recorded": _replay_attempt_recorded,
    "name.claimed": _name_claimed,
    "name.reclaimed": _name_claimed,
    "receipts.started": _receipts_started,
    "receipts.config_set": _push_config_set,
    "receipts.config_deleted": _push_config_deleted,
    "receipts.receipt_recorded": _receipt_recorded,
    "replay.started": _replay_started,
    "replay.item_recorded": _replay_item,
    "replay.cancelled": _replay_cancelled,
    "replay.completed": _by_carrier,
    "session.requested": _session_requested,
    "session.turn_appended": _turn_appended,
    "session.accepted": _session_answered,
    "session.rejected": _session_answered,
    "session.failed": _session_answered,
    "session.closed": _session_closed,
    "amtp.relay_delivered": _by_carrier,
    **AMTP_DATA,
}
