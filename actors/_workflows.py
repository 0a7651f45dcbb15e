"""WorkflowActor: one AMTP workflow (§7), its only writer.

It records each participant's answer and decides what follows from the workflow's
coordination block: a parallel workflow ends once its required participants answered
(at the first failure with ``stop_on_failure``); a sequential one goes on to the next
participant of its sequence, carrying the answer; a conditional one, on the first
answer of its recipients, goes to the ``then`` or ``else`` participants of each
condition and ends once they answered. Sending the message on is the caller's (the
edge sends it as the initiator, keyed by the step, so a retried answer sends nothing
twice). A workflow that reaches its deadline ends ``timeout``. At its end, the
initiator gets the result in its inbox, from the gateway.
"""

from __future__ import annotations

import math
import uuid
from datetime import datetime, timedelta
from typing import Any, assert_never

from atp.actors._actor import Actor
from atp.actors._context import ActorContext
from atp.actors._gateway_mail import gateway_address, mail_from_gateway
from atp.actors.commands import Reply
from atp.actors.workflow_commands import (
    ExpireWorkflow,
    RecordResponse,
    StartWorkflow,
    WorkflowCommand,
)
from atp.amtp import AMTP_VERSION, canonical_address, parse_coordination
from atp.domain import Workflow
from atp.errors import NotAParticipant, NotFound
from atp.wire import iso, workflow_document

__all__ = ["WorkflowActor"]


class WorkflowActor(Actor[WorkflowCommand]):
    """One workflow."""

    kind = "amtp_workflow"

    def __init__(self, workflow_id: str, context: ActorContext) -> None:
        super().__init__(workflow_id, context)
        self.workflow_id = workflow_id
        self.workflow: Workflow | None = None

    async def rehydrate(self) -> None:
        key = Workflow.create_id(self.workflow_id)
        self.workflow = await self.context.ledger.get(Workflow, key)

    async def handle(self, command: WorkflowCommand) -> Reply:
        now = self.context.now()
        match command:
            case StartWorkflow():
                if self.workflow is None:
                    self.workflow = Workflow.start(
                        command.workflow_id,
                        now,
                        kind=command.kind,
                        message_id=command.message_id,
                        initiator=command.initiator,
                        initiator_agent_id=command.initiator_agent_id,
                        initiator_account_id=command.initiator_account_id,
                        coordination=command.coordination,
                        participants=list(command.participants),
                        dispatched=list(command.first),
                        deadline=now + timedelta(seconds=command.timeout),
                        template=command.template,
                    )
                    self.stage(self.workflow)
                return Reply(200, workflow_document(self.workflow))
            case RecordResponse():
                return await self._respond(command, now)
            case ExpireWorkflow():
                workflow = self.workflow
                if workflow is not None and not workflow.ended and workflow.deadline <= now:
                    workflow.end("timeout", now)
                    self.stage(workflow)
                    await self._report(workflow)
                return Reply(200, {})
            case _:
                assert_never(command)

    async def _respond(self, command: RecordResponse, now: datetime) -> Reply:
        workflow = self.workflow
        if workflow is None:
            raise NotFound("workflow")
        address = canonical_address(command.address)
        if workflow.answered(address) and (
            workflow.participants[address]["message_id"] == command.message_id
        ):
            return Reply(200, self._next(workflow, address))  # the same answer again
        if not workflow.awaits(address):
            raise NotAParticipant()
        workflow.record_response(address, command.failed, command.payload, command.message_id, now)
        self._decide(workflow, address, command.failed, command.payload, now)
        self.stage(workflow)
        if workflow.ended:
            await self._report(workflow)
        return Reply(200, self._next(workflow, address))

    def _decide(
        self, workflow: Workflow, address: str, failed: bool, payload: Any, now: datetime
    ) -> None:
        """What follows ``address``'s answer: the next step, or the end."""
        coordination = parse_coordination(workflow.coordination, tuple(workflow.first))
        if failed and coordination.stop_on_failure:
            workflow.end("failed", now)
            return
        participants = workflow.participants
        if coordination.kind == "sequential":
            waiting = [a for a in coordination.participants if not participants[a]["dispatched"]]
            if waiting:
                workflow.dispatch(waiting[:1], [], address, now)
                return
        elif coordination.kind == "conditional" and not workflow.steps:
            chosen: list[str] = []
            for condition in coordination.conditions:
                met = condition.holds(address, payload)
                chosen += [a for a in (condition.then if met else condition.otherwise)]
            branches = {a for c in coordination.conditions for a in (*c.then, *c.otherwise)}
            fresh = [a for a in dict.fromkeys(chosen) if not participants[a]["dispatched"]]
            skipped = sorted(branches - set(chosen) - set(workflow.first))
            workflow.dispatch(fresh, skipped, address, now)
        awaited = coordination.required or [a for a, p in participants.items() if p["dispatched"]]
        if any(participants[a]["status"] == "pending" for a in awaited):
            return
        failures = any(p["status"] == "failed" for p in participants.values())
        workflow.end("failed" if failures else "completed", now)

    def _next(self, workflow: Workflow, address: str) -> dict[str, Any]:
        """The reply to an answer: the workflow, and where the message goes next."""
        step = workflow.step_after(address)
        previous = workflow.participants[address]
        body = workflow_document(workflow)
        body["next"] = None
        if step:
            body["next"] = {
                "workflow_id": workflow.workflow_id,
                "initiator": workflow.initiator,
                "initiator_agent_id": workflow.initiator_agent_id,
                "initiator_account_id": workflow.initiator_account_id,
                "coordination": workflow.coordination,
                "template": workflow.template,
                "recipients": step,
                "message_id": str(
                    uuid.uuid5(uuid.UUID(workflow.workflow_id), "step:" + ",".join(step))
                ),
                "previous_response": {"address": address, "payload": previous["response"]},
            }
        return body

    async def _report(self, workflow: Workflow) -> None:
        """The result, to the initiator's inbox."""
        context = self.context
        results = []
        for address, participant in workflow.participants.items():
            result: dict[str, Any] = {"address": address, "status": participant["status"]}
            if participant["status"] in ("completed", "failed"):
                result["payload"] = participant["response"]
            results.append(result)
        report = {
            "version": AMTP_VERSION,
            "message_id": str(uuid.uuid5(uuid.UUID(workflow.workflow_id), "result")),
            "timestamp": iso(context.now()),
            "sender": gateway_address(context.settings.domain),
            "recipients": [workflow.initiator],
            "subject": f"Workflow {workflow.workflow_id}: {workflow.status}",
            "in_reply_to": workflow.workflow_id,
            "response_type": "workflow_result",
            "payload": {
                "workflow_id": workflow.workflow_id,
                "coordination_type": workflow.kind,
                "status": workflow.status,
                "results": results,
            },
        }
        key = f"workflow_result {workflow.workflow_id}"
        await mail_from_gateway(context, workflow.initiator_agent_id, report, key)

    # -- deadlines ------------------------------------------------------------------------

    def next_deadline(self) -> datetime | None:
        workflow = self.workflow
        return None if workflow is None or workflow.ended else workflow.deadline

    def deadline_command(self) -> WorkflowCommand:
        return ExpireWorkflow(self.workflow_id)

    def keep_running_for(self) -> float:
        return math.inf  # while the workflow runs: its deadline is its own
