"""AMTP coordination at the edge: a local agent's coordinated message starts a workflow
(``WorkflowActor``) and goes to its first participants; an answer to one of this
gateway's workflows is recorded before it is delivered, and what the workflow sends
next goes out as its initiator's message; ``GET /v1/workflows/:id`` shows it.

The workflow id is returned to the sender in the send's answer and rides in every
message of the workflow (``coordination.workflow_id``); participants answer with
``in_reply_to`` the workflow id and ``response_type`` ``workflow_response`` (or
``workflow_error``/``error`` for a failure). Only a participant the workflow awaits may
answer for itself: its key (or its gateway's signature) says who it is.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import attrs
from quart import Blueprint, Response

from atp.actors import Principal
from atp.actors.workflow_commands import RecordResponse, StartWorkflow
from atp.amtp import AMTP_VERSION, AmtpMessage, MessageNotFound, parse_address, parse_coordination
from atp.api._requests import authenticate, carrier
from atp.api.amtp._edge import amtp_route, answer, reader
from atp.domain import Workflow
from atp.errors import NotFound
from atp.wire import iso, workflow_document

__all__ = ["blueprint", "record_answer", "start_workflow", "step_message"]

blueprint = Blueprint("amtp_workflows", __name__)

_WORKFLOW_IDS = uuid.UUID("7a1e0c52-9e6b-4f0d-8b3a-2d5c6e7f8091")
_ANSWERS = {"workflow_response": False, "workflow_error": True, "error": True}


async def start_workflow(principal: Principal, message: AmtpMessage) -> AmtpMessage:
    """``message`` as its workflow sends it first, if it asks for one (a coordination
    block without a workflow id); else ``message``.

    Raises:
        InvalidCoordination: a block that cannot be run.
    """
    block = message.document.get("coordination")
    if not isinstance(block, dict) or "workflow_id" in block:
        return message
    recipients = tuple(r.canonical for r in message.recipients)
    plan = parse_coordination(block, recipients)
    key = message.idempotency_key or message.message_id  # a retried send: the same workflow
    workflow_id = str(uuid.uuid5(_WORKFLOW_IDS, f"{principal.id}|{key}"))
    document = message.document
    template = {k: document.get(k) for k in ("subject", "schema", "payload")}
    await carrier().ask(
        StartWorkflow(
            workflow_id,
            plan.kind,
            message.message_id,
            document["sender"],
            principal.id,
            principal.account_id,
            dict(block),
            plan.participants,
            plan.first,
            plan.timeout,
            template,
        )
    )
    document["coordination"] = {**block, "workflow_id": workflow_id, "requires_response": True}
    document["recipients"] = list(plan.first)
    first = tuple(a for a in (parse_address(r) for r in plan.first) if a is not None)
    return attrs.evolve(message, recipients=first)


async def record_answer(message: AmtpMessage) -> dict[str, Any] | None:
    """Record ``message`` as its sender's answer, if it answers one of this gateway's
    workflows; return where the workflow sends its message next, if anywhere.

    Raises:
        NotAParticipant: its sender is no participant the workflow awaits.
    """
    document = message.document
    failed = _ANSWERS.get(document.get("response_type") or "")
    workflow_id = document.get("in_reply_to")
    if failed is None or not isinstance(workflow_id, str) or len(workflow_id) != 36:
        return None
    rt = carrier()
    if await rt.aggregate(Workflow, Workflow.create_id(workflow_id)) is None:
        return None  # not ours: an ordinary reply
    sender = message.sender.canonical
    command = RecordResponse(
        workflow_id, sender, failed, document.get("payload"), message.message_id
    )
    step: dict[str, Any] | None = (await rt.ask(command)).body.get("next")
    return step


def step_message(step: dict[str, Any], now: datetime) -> tuple[Principal, AmtpMessage]:
    """The initiator, and the message its workflow sends next (its id follows from the
    step: sent again, it is the same message)."""
    template, block = step["template"], step["coordination"]
    coordination = {
        **block,
        "workflow_id": step["workflow_id"],
        "requires_response": True,
        "previous_response": step["previous_response"],
    }
    document = {
        "version": AMTP_VERSION,
        "message_id": step["message_id"],
        "timestamp": iso(now),
        "sender": step["initiator"],
        "recipients": list(step["recipients"]),
        **{k: v for k, v in template.items() if v is not None and k != "payload"},
        "coordination": coordination,
        "payload": template.get("payload"),
    }
    sender = parse_address(step["initiator"])
    recipients = tuple(a for a in (parse_address(r) for r in step["recipients"]) if a)
    assert sender is not None
    message = AmtpMessage(step["message_id"], sender, recipients, None, document)
    initiator = Principal("agent", step["initiator_account_id"], step["initiator_agent_id"])
    return initiator, message


@blueprint.get("/v1/workflows/<workflow_id>")
@amtp_route
async def show(workflow_id: str) -> Response:
    """A workflow's state, to its initiator (or the initiator's account)."""
    workflow = await _visible(await reader(), workflow_id)
    if workflow is None:
        raise MessageNotFound("workflow not found", workflow_id=workflow_id)
    return answer(workflow_document(workflow))


@blueprint.get("/api/workflows/<workflow_id>")
async def show_native(workflow_id: str) -> dict[str, Any]:
    """The same, on the native API: its keys, the contract's error envelope."""
    workflow = await _visible(await authenticate("account", "agent"), workflow_id)
    if workflow is None:
        raise NotFound("workflow")
    return workflow_document(workflow)


async def _visible(principal: Principal, workflow_id: str) -> Workflow | None:
    """The workflow, if ``principal`` started it (or its account did)."""
    workflow = None
    if len(workflow_id) == 36:
        workflow = await carrier().aggregate(Workflow, Workflow.create_id(workflow_id.lower()))
    if workflow is None:
        return None
    if principal.agent_id is not None:
        return workflow if principal.agent_id == workflow.initiator_agent_id else None
    return workflow if principal.account_id == workflow.initiator_account_id else None
