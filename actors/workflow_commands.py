"""The commands of a workflow's actor: start it, record a participant's answer, end it
when its time is up."""

from __future__ import annotations

from typing import Any, final

import attrs

__all__ = ["ExpireWorkflow", "RecordResponse", "StartWorkflow", "WorkflowCommand"]


@final
@attrs.frozen
class StartWorkflow:
    """Start the workflow of a coordinated message (again: answered as it stands)."""

    workflow_id: str
    kind: str
    message_id: str
    initiator: str
    initiator_agent_id: str
    initiator_account_id: str
    coordination: dict[str, Any] = attrs.field(repr=False)
    participants: tuple[str, ...]
    first: tuple[str, ...]
    timeout: int
    template: dict[str, Any] = attrs.field(repr=False)


@final
@attrs.frozen
class RecordResponse:
    """A participant's answer (an AMTP message ``in_reply_to`` the workflow id); the
    reply says where the message goes next, if anywhere (asked again, the same)."""

    workflow_id: str
    address: str
    failed: bool
    payload: Any = attrs.field(repr=False)
    message_id: str


@final
@attrs.frozen
class ExpireWorkflow:
    """The workflow's deadline (or the sweep waking it after a restart)."""

    workflow_id: str


WorkflowCommand = StartWorkflow | RecordResponse | ExpireWorkflow
