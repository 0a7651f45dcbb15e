"""The replays' part of the OpenAPI document: their routes and schemas (docs/api.md, "Replays")."""

from __future__ import annotations

from typing import Any

from atp.api._openapi_routes import Route
from atp.api._openapi_schemas import id_of, nullable, object_of
from atp.errors import (
    InvalidRequest,
    MessageNotDelivered,
    NotFound,
    ReplayFinished,
    WebhookEndpointInactive,
)
from atp.wire import REPLAY_STATUSES, ReplayBody, ReplaysBody, body_schema

__all__ = ["REPLAY_ROUTES", "REPLAY_SCHEMAS"]

_AGENT, _EITHER = ("agent",), ("account", "agent")
_REPLAY_ID = {"replay_id": "$response.body#/replay/id"}
_LINKS = {
    "get_api_replays_replay_id": _REPLAY_ID,
    "post_api_replays_replay_id_cancel": _REPLAY_ID,
}

REPLAY_ROUTES: tuple[Route, ...] = (
    Route(
        "POST",
        "/api/messages/{message_id}/replay",
        "Hand a message the caller received out once more: pushed to its webhook endpoint"
        " as first pushed (the original delivery's webhook-id, plus atp-replay-id), or"
        " claimable once more from its inbox. Deliveries, statuses and ACKs do not change.",
        {202: "Replay"},
        _AGENT,
        True,
        "MessageReplayRequest",
        errors=(InvalidRequest, NotFound, MessageNotDelivered, WebhookEndpointInactive),
        links=_LINKS,
    ),
    Route(
        "POST",
        "/api/replays",
        "Replay the caller's messages that the filter matches (every one ever handed out"
        " without a filter; at most 10,000), one attempt each, at most rate_per_second.",
        {202: "Replay"},
        _AGENT,
        True,
        "ReplayRequest",
        errors=(InvalidRequest, WebhookEndpointInactive),
        links=_LINKS,
    ),
    Route(
        "GET",
        "/api/replays/{replay_id}",
        "A replay and its progress (the agent that started it, or its account).",
        {200: "Replay"},
        _EITHER,
        errors=(NotFound,),
    ),
    Route(
        "POST",
        "/api/replays/{replay_id}/cancel",
        "Stop a running replay before its next message (a cancelled one answers the same).",
        {200: "Replay"},
        _EITHER,
        True,
        errors=(NotFound, ReplayFinished),
    ),
)

_TIME = {"type": "string", "format": "date-time", "pattern": r"Z$"}
_COUNT = {"type": "integer", "minimum": 0}
# The filter as it was given: a time keeps the offset it was written with.
_FILTER = object_of(
    {
        "since": nullable({"type": "string", "format": "date-time"}),
        "until": nullable({"type": "string", "format": "date-time"}),
        "status": nullable(
            {"type": "array", "items": {"type": "string", "enum": sorted(REPLAY_STATUSES)}}
        ),
        "sender": nullable({"type": "string"}),
        "session": nullable({"type": "string"}),
    }
)

REPLAY_SCHEMAS: dict[str, dict[str, Any]] = {
    # Request bodies parsed by attrs classes: described by them.
    "MessageReplayRequest": body_schema(ReplayBody),
    "ReplayRequest": {
        **body_schema(ReplaysBody),
        "description": "The filter's fields must all match: since and until bound when the"
        " message was sent; status names a carrier_status or an ack_status; sender is an"
        " atp://agent/ address or an agt_ id.",
    },
    "Replay": object_of(
        {
            "replay": object_of(
                {
                    "id": id_of("rpl"),
                    "name": nullable({"type": "string", "maxLength": 200}),
                    "agent_id": id_of("agt"),
                    "target": {"type": "string", "enum": ["inbox", "webhook"]},
                    "filter": _FILTER,
                    "rate_per_second": nullable(
                        {"type": "number", "exclusiveMinimum": 0, "maximum": 1000}
                    ),
                    "state": {"type": "string", "enum": ["cancelled", "completed", "running"]},
                    "total": _COUNT,
                    "done": _COUNT,
                    "delivered": _COUNT,
                    "failed": _COUNT,
                    "skipped": _COUNT,
                    "created_at": _TIME,
                    "finished_at": nullable(_TIME),
                }
            )
        }
    ),
}
