"""Workflow: an AMTP coordinated message (§7) and where its participants stand.

The originating gateway keeps a workflow's state: who it was sent to, who answered
what (``workflow_response``, or ``workflow_error``/``error`` for a failure), which
further steps were sent (a sequential workflow's next participant, a conditional
workflow's chosen branch), and how it ended: ``completed``, ``failed`` or ``timeout``.
What to do after an answer is decided by the workflow's actor, which reads the
coordination block; this aggregate records what was decided, so a replay of the
ledger tells the whole run.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, TypedDict
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from atp.domain._ids import aggregate_id

__all__ = ["Participant", "Workflow", "WorkflowStatus"]

WorkflowStatus = Literal["in_progress", "completed", "failed", "timeout"]


class Participant(TypedDict):
    status: str  # pending, completed, failed, timeout, skipped
    dispatched: bool  # the message was sent to it
    response: Any
    responded_at: datetime | None
    message_id: str | None  # its answer's AMTP message id


class Workflow(Aggregate):
    """One coordinated message's run."""

    class Started(Aggregate.Created):
        workflow_id: str
        kind: str
        message_id: str
        initiator: str  # the sender's address
        initiator_agent_id: str
        initiator_account_id: str
        coordination: dict[str, Any]  # as sent
        participants: list[str]
        dispatched: list[str]
        deadline: datetime
        template: dict[str, Any]  # subject, schema, payload: what later steps carry
        at: datetime

    class ResponseRecorded(Aggregate.Event):
        address: str
        failed: bool
        payload: Any
        message_id: str
        at: datetime

    class StepDispatched(Aggregate.Event):
        """The message went on to ``addresses`` after ``after``'s answer; ``skipped``
        were left out (a conditional workflow's other branch)."""

        addresses: list[str]
        skipped: list[str]
        after: str
        at: datetime

    class Ended(Aggregate.Event):
        status: str
        at: datetime

    @staticmethod
    def create_id(workflow_id: str) -> UUID:
        return aggregate_id(f"workflow:{workflow_id}")

    @classmethod
    def start(cls, workflow_id: str, at: datetime, **details: Any) -> Workflow:
        return cls._create(
            cls.Started, id=cls.create_id(workflow_id), workflow_id=workflow_id, at=at, **details
        )

    @event(Started)
    def __init__(
        self,
        workflow_id: str,
        kind: str,
        message_id: str,
        initiator: str,
        initiator_agent_id: str,
        initiator_account_id: str,
        coordination: dict[str, Any],
        participants: list[str],
        dispatched: list[str],
        deadline: datetime,
        template: dict[str, Any],
        at: datetime,
    ) -> None:
        self.workflow_id = workflow_id
        self.kind = kind
        self.message_id = message_id
        self.initiator = initiator
        self.initiator_agent_id = initiator_agent_id
        self.initiator_account_id = initiator_account_id
        self.coordination = coordination
        self.deadline = deadline
        self.template = template
        self.created_at = self.updated_at = at
        self.status: WorkflowStatus = "in_progress"
        self.first = list(dispatched)  # those the message went to at once
        self.steps: list[tuple[str, list[str]]] = []  # (after whose answer, sent to)
        self.participants: dict[str, Participant] = {
            address: Participant(
                status="pending",
                dispatched=address in dispatched,
                response=None,
                responded_at=None,
                message_id=None,
            )
            for address in participants
        }

    @property
    def ended(self) -> bool:
        return self.status != "in_progress"

    def answered(self, address: str) -> bool:
        found = self.participants.get(address)
        return found is not None and found["status"] in ("completed", "failed")

    def awaits(self, address: str) -> bool:
        """Whether ``address`` may answer now: a participant sent the message, not yet
        answered, in a workflow still running."""
        found = self.participants.get(address)
        return (
            not self.ended
            and found is not None
            and found["dispatched"]
            and (found["status"] == "pending")
        )

    @event(ResponseRecorded)
    def record_response(
        self, address: str, failed: bool, payload: Any, message_id: str, at: datetime
    ) -> None:
        participant = self.participants[address]
        participant["status"] = "failed" if failed else "completed"
        participant["response"] = payload
        participant["responded_at"] = at
        participant["message_id"] = message_id
        self.updated_at = at

    @event(StepDispatched)
    def dispatch(self, addresses: list[str], skipped: list[str], after: str, at: datetime) -> None:
        for address in addresses:
            self.participants[address]["dispatched"] = True
        for address in skipped:
            self.participants[address]["status"] = "skipped"
        self.steps.append((after, addresses))
        self.updated_at = at

    @event(Ended)
    def end(self, status: str, at: datetime) -> None:
        if status == "timeout":
            for participant in self.participants.values():
                if participant["status"] == "pending":
                    participant["status"] = "timeout"
        self.status = status  # type: ignore[assignment]
        self.updated_at = at

    def step_after(self, address: str) -> list[str] | None:
        """Whom the message went on to after ``address``'s answer, if anyone."""
        for after, addresses in self.steps:
            if after == address:
                return addresses
        return None
