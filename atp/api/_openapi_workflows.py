"""The native workflow route's part of the OpenAPI document (docs/amtp.md, "Coordination")."""

from __future__ import annotations

from typing import Any

from atp.api._openapi_routes import Route
from atp.api._openapi_schemas import enum_of, object_of
from atp.errors import NotFound

__all__ = ["WORKFLOW_ROUTES", "WORKFLOW_SCHEMAS"]

WORKFLOW_ROUTES: tuple[Route, ...] = (
    Route(
        "GET",
        "/api/workflows/{workflow_id}",
        "An AMTP workflow's state (as GET /v1/workflows/{workflow_id}), to its initiator"
        " or the initiator's account.",
        {200: "Workflow"},
        ("account", "agent"),
        errors=(NotFound,),
    ),
)

_TIME = {"type": "string", "format": "date-time"}
_PARTICIPANT = object_of(
    {"address": {"type": "string"}, "status": {"type": "string"}},
    {"deadline": _TIME, "response": {}, "responded_at": _TIME},
)
WORKFLOW_SCHEMAS: dict[str, Any] = {
    "Workflow": object_of(
        {
            "workflow_id": {"type": "string"},
            "type": enum_of(["parallel", "sequential", "conditional"]),
            "status": enum_of(["in_progress", "completed", "failed", "timeout"]),
            "message_id": {"type": "string"},
            "initiator": {"type": "string"},
            "created_at": _TIME,
            "updated_at": _TIME,
            "deadline": _TIME,
            "participants": {"type": "array", "items": _PARTICIPANT},
        }
    ),
}
