"""What one gateway sends another: the message for that domain's recipients, and the
``delivery_failure`` report (AMTP §8) a sender gets when they cannot be reached.

Pure: shaping only.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from atp.amtp._message import AMTP_VERSION

__all__ = ["failure_report", "relay_message"]

# uuid5 namespaces: a relay's idempotency key, a report's message id.
_RELAY_KEYS = uuid.UUID("0f5e7c8a-5b7e-4a53-9d0e-2f3c4b5a6d71")
_REPORTS = uuid.UUID("4b1d2f9e-8c3a-4e6b-a1d5-7e9f0c2b3a84")


def relay_message(document: dict[str, Any], recipients: Sequence[str]) -> dict[str, Any]:
    """``document`` for the recipients of one other domain, under an idempotency key
    its message id and that recipient set decide: a retry repeats it, another set of
    recipients of the same message never shares it."""
    ordered = sorted(r.lower() for r in recipients)
    key = uuid.uuid5(_RELAY_KEYS, "\n".join([document["message_id"], *ordered]))
    return {**document, "recipients": list(recipients), "idempotency_key": str(key)}


def failure_report(
    relay: str,
    sender: str,
    reporter: str,
    original: dict[str, Any],
    failed: Sequence[str],
    reason: str,
    attempts: int,
    final_attempt: str | None,
    timestamp: str,
) -> dict[str, Any]:
    """The AMTP message telling ``sender`` that ``failed`` were not reached (its id
    follows from the relay, so reporting twice is one report)."""
    return {
        "version": AMTP_VERSION,
        "message_id": str(uuid.uuid5(_REPORTS, relay)),
        "timestamp": timestamp,
        "sender": reporter,
        "recipients": [sender],
        "subject": f"Delivery failure: {original.get('subject') or original['message_id']}",
        "in_reply_to": original["message_id"],
        "response_type": "delivery_failure",
        "payload": {
            "version": AMTP_VERSION,
            "message_type": "delivery_failure",
            "original_message_id": original["message_id"],
            "failed_recipients": list(failed),
            "error_code": "DELIVERY_FAILED",
            "error_message": reason,
            "retry_count": max(0, attempts - 1),
            "final_attempt": final_attempt,
        },
    }
