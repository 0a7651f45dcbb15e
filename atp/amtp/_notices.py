"""AMTP's delivery notifications (§12.1.4): what a sender's webhook is told when one
recipient of its message was handed it (``message.delivered``) or given up
(``message.failed``).

The body has Standard Webhooks' shape (``type``, ``timestamp``, ``data``), as the
notice is signed by that scheme, so a receiver's Standard Webhooks library verifies
and reads it as it does any other event. Pure: no I/O.
"""

from __future__ import annotations

from typing import Any

__all__ = ["notice_body"]


def notice_body(
    event: str,
    webhook_id: str,
    message_id: str,
    sender: str,
    recipient: str,
    timestamp: str,
    error: tuple[str, str | None] | None = None,
) -> dict[str, Any]:
    """The notice of ``event`` for ``recipient`` of AMTP message ``message_id``, with the
    AMTP error (code, message) of a failure."""
    data: dict[str, Any] = {
        "webhook_id": webhook_id,
        "message_id": message_id,
        "sender": sender,
        "recipient": recipient,
        "status": "delivered" if event == "message.delivered" else "failed",
        "timestamp": timestamp,
    }
    if error is not None:
        data["error_code"], data["error_message"] = error
    return {"type": event, "timestamp": timestamp, "data": data}
