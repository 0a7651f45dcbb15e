"""Audit record data of AMTP's events: an AMTP message accepted, its relays to other
domains, the accounts' schemas, workflows, and the delivery-notification webhooks and
what they were told (the rest is ``atp.audit._record_data``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from atp.audit._canonical import payload_sha256
from atp.audit._directory import CARRIER, Directory, Entry
from atp.audit._facts import safe_error, url_facts
from atp.wire import iso as _iso

__all__ = ["AMTP_DATA"]


def _amtp_accepted(e: Any, entry: Entry, d: Directory) -> tuple[str, dict[str, Any]]:
    recipients = [{k: r[k] for k in ("address", "message_id", "error_code")} for r in e.recipients]
    document = e.document
    data = {
        "sender": document["sender"],
        "schema": document.get("schema"),
        "in_reply_to": document.get("in_reply_to"),
        "recipients": recipients,
        "payload_sha256": payload_sha256(document),
    }
    return e.sender_agent_id, data


def _relay_started(e: Any, entry: Entry, d: Directory) -> tuple[str, dict[str, Any]]:
    data = {"message_id": e.message_id, "domain": e.domain, "recipients": list(e.recipients)}
    return e.sender_agent_id, {**data, "max_attempts": e.max_attempts}


def _relay_attempt(e: Any, entry: Entry, d: Directory) -> tuple[str, dict[str, Any]]:
    return CARRIER, {
        "attempt": e.attempt,
        "response_status": e.response_status,
        "error": e.error,
        "next_attempt_at": _iso(e.next_attempt_at),
    }


def _relay_abandoned(e: Any, entry: Entry, d: Directory) -> tuple[str, dict[str, Any]]:
    return CARRIER, {"reason": e.reason}


def _schema_registered(e: Any, entry: Entry, d: Directory) -> tuple[str, dict[str, Any]]:
    data = {"schema_id": e.schema_id, "definition_sha256": payload_sha256(e.definition)}
    return e.account_id, data


def _schema_replaced(e: Any, entry: Entry, d: Directory) -> tuple[str, dict[str, Any]]:
    return entry.accounts[0], {"definition_sha256": payload_sha256(e.definition)}


def _schema_deleted(e: Any, entry: Entry, d: Directory) -> tuple[str, dict[str, Any]]:
    return entry.accounts[0], {}


def _workflow_started(e: Any, entry: Entry, d: Directory) -> tuple[str, dict[str, Any]]:
    return e.initiator_agent_id, {
        "kind": e.kind,
        "message_id": e.message_id,
        "participants": list(e.participants),
        "deadline": _iso(e.deadline),
    }


def _workflow_response(e: Any, entry: Entry, d: Directory) -> tuple[str, dict[str, Any]]:
    return CARRIER, {
        "address": e.address,
        "failed": e.failed,
        "message_id": e.message_id,
        "payload_sha256": payload_sha256(e.payload),
    }


def _workflow_step(e: Any, entry: Entry, d: Directory) -> tuple[str, dict[str, Any]]:
    return CARRIER, {"addresses": list(e.addresses), "skipped": list(e.skipped), "after": e.after}


def _workflow_ended(e: Any, entry: Entry, d: Directory) -> tuple[str, dict[str, Any]]:
    return CARRIER, {"status": e.status}


def _webhook_registered(e: Any, entry: Entry, d: Directory) -> tuple[str, dict[str, Any]]:
    # Never the secret, sealed or not: the URL's host and hash, and what it hears.
    data = {"webhook_id": e.webhook_id, **url_facts(e.url), "events": list(e.events)}
    return e.agent_id or e.account_id, data


def _webhook_removed(e: Any, entry: Entry, d: Directory) -> tuple[str, dict[str, Any]]:
    return (entry.agents or entry.accounts)[0], {}


def _notice_recorded(e: Any, entry: Entry, d: Directory) -> tuple[str, dict[str, Any]]:
    return CARRIER, {
        "webhook_id": e.webhook_id,
        "address": e.address,
        "event": e.event,
        "result": e.result,
        "attempts": e.attempts,
        "response_status": e.response_status,
        "error": safe_error(e.error),
    }


def _notices_settled(e: Any, entry: Entry, d: Directory) -> tuple[str, dict[str, Any]]:
    return CARRIER, {}


AMTP_DATA: Mapping[str, Callable[[Any, Entry, Directory], tuple[str, dict[str, Any]]]] = {
    "amtp.message_accepted": _amtp_accepted,
    "amtp.relay_started": _relay_started,
    "amtp.relay_attempt_recorded": _relay_attempt,
    "amtp.relay_abandoned": _relay_abandoned,
    "amtp.schema_registered": _schema_registered,
    "amtp.schema_replaced": _schema_replaced,
    "amtp.schema_deleted": _schema_deleted,
    "amtp.workflow_started": _workflow_started,
    "amtp.workflow_response_recorded": _workflow_response,
    "amtp.workflow_step_dispatched": _workflow_step,
    "amtp.workflow_ended": _workflow_ended,
    "amtp.webhook_registered": _webhook_registered,
    "amtp.webhook_removed": _webhook_removed,
    "amtp.notice_recorded": _notice_recorded,
    "amtp.notices_settled": _notices_settled,
}
