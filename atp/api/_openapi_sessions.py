"""The session routes' part of the OpenAPI document's schemas (docs/api.md, "Sessions")."""

from __future__ import annotations

from typing import Any, get_args

from atp.api._openapi_schemas import (
    ADDRESS,
    MAYBE_TIME,
    TIME,
    enum_of,
    id_of,
    nullable,
    object_of,
    ref,
)
from atp.domain import SessionStatus

__all__ = ["SESSION_SCHEMAS"]

SESSION_SCHEMAS: dict[str, dict[str, Any]] = {
    "Session": object_of(
        {
            "id": id_of("ses"),
            "status": enum_of(get_args(SessionStatus)),
            "initiator_agent_id": id_of("agt"),
            "recipient_agent_id": id_of("agt"),
            "initiator": ADDRESS,
            "recipient": ADDRESS,
            "opening_message_id": id_of("msg"),
            "last_sequence": {"type": "integer", "minimum": 1},
            "opened_at": MAYBE_TIME,
            "terminal_at": MAYBE_TIME,
            "created_at": TIME,
        }
    ),
    "StreamEvent": {
        "description": "One Server-Sent Event: `message` (the opening or a turn, as the "
        "transcript shows it) or `status` (a change of the session's status); its `id` is "
        "the position to resume after with Last-Event-ID.",
        "oneOf": [
            object_of(
                {
                    "event": {"const": name},
                    "id": {"type": "string", "pattern": "^[0-9]+$"},
                    "data": {
                        "type": "string",
                        "contentMediaType": "application/json",
                        "contentSchema": data,
                    },
                },
                {"retry": {"type": "integer"}},
            )
            for name, data in (
                ("message", ref("MessageStatus")),
                ("status", object_of({"status": enum_of(get_args(SessionStatus)), "at": TIME})),
            )
        ],
    },
    "SessionMessage": object_of(
        {"session": ref("Session"), "message_status": ref("MessageStatus")}
    ),
    "SessionOnly": object_of({"session": ref("Session")}),
    "Transcript": object_of(
        {"session": ref("Session"), "messages": {"type": "array", "items": ref("MessageStatus")}},
        {"next_after_sequence": {"type": ["integer", "null"]}},
    ),
    "Sessions": object_of(
        {
            "sessions": {"type": "array", "items": ref("Session")},
            "next_after": nullable(id_of("ses")),
        }
    ),
}
