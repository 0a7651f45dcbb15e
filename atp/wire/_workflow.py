"""A workflow's state as the API shows it (``GET /v1/workflows/:id``)."""

from __future__ import annotations

from typing import Any

from atp.domain import Workflow
from atp.wire._render import iso

__all__ = ["workflow_document"]


def workflow_document(workflow: Workflow) -> dict[str, Any]:
    """The workflow's state (``GET /v1/workflows/:id``)."""
    participants = []
    for address, p in workflow.participants.items():
        shown: dict[str, Any] = {"address": address, "status": p["status"]}
        if p["status"] == "pending":
            shown["deadline"] = iso(workflow.deadline)
        if p["responded_at"] is not None:
            shown["response"] = p["response"]
            shown["responded_at"] = iso(p["responded_at"])
        participants.append(shown)
    return {
        "workflow_id": workflow.workflow_id,
        "type": workflow.kind,
        "status": workflow.status,
        "message_id": workflow.message_id,
        "initiator": workflow.initiator,
        "created_at": iso(workflow.created_at),
        "updated_at": iso(workflow.updated_at),
        "deadline": iso(workflow.deadline),
        "participants": participants,
    }
