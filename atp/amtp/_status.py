"""An AMTP message's status (§5.2.2, §12.1.2), read off the local messages carrying it.

Each local recipient's status is its message's: ``queued`` until handed out,
``delivered`` once leased by its inbox or pushed to its webhook (``acknowledged`` once
it answered), ``failed`` when the carrier gave it up. A recipient no message was
queued for is ``failed`` with the reason kept in the envelope. The whole is
``delivered`` when every recipient is, ``failed`` when one failed and none waits,
``queued`` while none was handed out yet, else ``delivering``. A recipient at another
domain is its relay's (``relayed_status``).

Pure: it shapes documents the views hold.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["local_failure", "message_status", "recipient_status", "relayed_status"]

# Why the carrier gave a message up, in AMTP's error codes.
_FAILURES = {
    "expired": ("MESSAGE_EXPIRED", "the recipient did not take the message before it expired"),
    "rejected": ("DELIVERY_REFUSED", "the recipient's sender policy refused the message"),
    "delivery_failed": ("RECIPIENT_UNAVAILABLE", "the recipient's webhook did not take it"),
    "canceled": ("CANCELED", "the sender withdrew the message"),
}


def recipient_status(
    address: str,
    local: Mapping[str, Any] | None,
    error: tuple[str | None, str | None] = (None, None),
) -> dict[str, Any]:
    """One recipient's status: from ``local``, its message's status document, or the
    ``error`` (code, message) of a recipient that has none."""
    if local is None:
        code, message = error
        return {
            "address": address,
            "status": "failed",
            "attempts": 0,
            "error_code": code,
            "error_message": message,
        }
    deliveries: Sequence[Mapping[str, Any]] = local["deliveries"]
    carrier_status = local["carrier_status"]
    status: dict[str, Any] = {
        "address": address,
        "status": carrier_status if carrier_status in ("queued", "delivered") else "failed",
        "timestamp": local["terminal_at"] or _last_change(local),
        "attempts": sum(max(1, d["attempt_count"]) for d in deliveries),
        "delivery_mode": "push" if any(d["mode"] == "webhook" for d in deliveries) else "pull",
        "local_delivery": True,
        "message_id": local["message"]["id"],
    }
    delivered = [d["delivered_at"] or d["claimed_at"] for d in deliveries]
    if delivered and delivered[0] is not None:
        status["delivered_at"] = delivered[0]
    retries = [d["next_attempt_at"] for d in deliveries if d["status"] == "retry_scheduled"]
    if retries:
        status["next_retry"] = retries[-1]
    if local["ack_status"] is not None:
        status["acknowledged"] = True
        status["ack_status"] = local["ack_status"]
    if status["status"] == "failed":
        status["error_code"], status["error_message"] = local_failure(carrier_status)
    return status


def local_failure(carrier_status: str) -> tuple[str, str]:
    """Why the carrier gave a local message up (its ``carrier_status``), as AMTP's error
    code and a message."""
    return _FAILURES.get(carrier_status, ("DELIVERY_FAILED", carrier_status))


def relayed_status(
    address: str,
    state: str,
    attempts: int,
    last_attempt_at: str | None,
    next_attempt_at: str | None,
    ended_at: str | None,
    reason: str | None,
) -> dict[str, Any]:
    """A recipient at another domain: ``queued`` until the first attempt, ``retrying``
    between attempts, ``delivered`` once its gateway took it, ``failed`` when given up."""
    shown = ("retrying" if attempts else "queued") if state == "pending" else state
    status: dict[str, Any] = {
        "address": address,
        "status": shown,
        "attempts": attempts,
        "delivery_mode": "relay",
        "local_delivery": False,
    }
    if last_attempt_at is not None:
        status["timestamp"] = ended_at or last_attempt_at
    if next_attempt_at is not None:
        status["next_retry"] = next_attempt_at
    if state == "delivered":
        status["delivered_at"] = ended_at
    elif state == "failed":
        status["error_code"], status["error_message"] = "DELIVERY_FAILED", reason
    return status


def message_status(
    message_id: str, created_at: str, recipients: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """The whole message's status: its recipients', and theirs summed up."""
    states = {r["status"] for r in recipients}
    if states == {"delivered"}:
        overall = "delivered"
    elif "failed" in states and not states & {"queued", "retrying"}:
        overall = "failed"
    elif states == {"queued"}:
        overall = "queued"
    else:
        overall = "delivering"
    retries = sorted(r["next_retry"] for r in recipients if r.get("next_retry"))
    times = [r["timestamp"] for r in recipients if r.get("timestamp")]
    status: dict[str, Any] = {
        "message_id": message_id,
        "status": overall,
        "recipients": list(recipients),
        "attempts": sum(r["attempts"] for r in recipients),
        "next_retry": retries[0] if retries else None,
        "created_at": created_at,
        "updated_at": max([created_at, *times]),
    }
    if overall == "delivered":
        status["delivered_at"] = max(r.get("delivered_at") or created_at for r in recipients)
    return status


def _last_change(local: Mapping[str, Any]) -> str:
    deliveries = local["deliveries"]
    if deliveries:
        last = deliveries[-1]
        return str(last["delivered_at"] or last["claimed_at"] or local["message"]["created_at"])
    return str(local["message"]["created_at"])
