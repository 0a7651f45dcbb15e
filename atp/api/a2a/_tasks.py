"""The A2A operations on the carrier, whichever binding asked.

The caller is an ATP agent (its own agent key as the bearer token); the tenant is the
agent it talks to. ``SendMessage`` is an ATP send from the caller to the tenant, kept
once per A2A ``messageId`` (A2A §3.3.1 lets a server use it so); the task is that
message, read from the ledger, so a task is current as soon as its commit is. A task
is visible only to the agent that sent it, asked through the tenant it was sent to:
anything else is "not found", as for a task that does not exist.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from typing import Any

import attrs
import trio

from atp.actors import Carrier, Principal, Ticket
from atp.actors.commands import SendMessage, SendTurn
from atp.api._access_log import note_principal
from atp.api._requests import answer_once, bearer_token, carrier
from atp.api.a2a._errors import (
    InvalidParams,
    TaskNotFound,
    Unauthenticated,
    UnknownTenant,
    UnsupportedOperation,
)
from atp.api.a2a._params import ListRequest
from atp.domain import Message, aggregate_id, new_id
from atp.errors import InvalidA2AMessage
from atp.wire import (
    TERMINAL_TASK_STATES,
    check_payload,
    iso,
    task_document,
    task_state,
)

__all__ = [
    "SEND_SCOPE",
    "Caller",
    "caller",
    "follow",
    "list_tasks",
    "send",
    "sent_message",
    "settle",
    "visible_task",
]

# The route part of an A2A send's idempotency scope: stored (its uuid5 keys the record).
SEND_SCOPE = "A2A SendMessage"


@attrs.frozen
class Caller:
    """The calling agent, and the agent (tenant) it calls."""

    principal: Principal
    tenant: str

    @property
    def agent_id(self) -> str:
        assert self.principal.agent_id is not None
        return self.principal.agent_id


async def caller(tenant: object) -> Caller:
    """The caller, from its bearer token, and the tenant it names.

    Raises:
        Unauthenticated: no valid agent key.
        InvalidParams, UnknownTenant: no tenant, or not an active agent.
    """
    rt = carrier()
    token = bearer_token()
    principal = None if token is None else await rt.identities.principal(token)
    if principal is None or principal.kind != "agent":
        raise Unauthenticated()
    note_principal(principal.id)
    if not isinstance(tenant, str) or not tenant:
        raise InvalidParams("tenant is required: the id of the agent called (its card says it)")
    agent = await rt.identities.agent(tenant)
    if agent is None or agent.status != "active":
        raise UnknownTenant()
    return Caller(principal, tenant)


async def send(who: Caller, message: dict[str, Any]) -> dict[str, Any]:
    """Send ``message`` from the caller to the tenant, once per ``messageId``; the
    send's answer (the message-status document).

    A message without a ``contextId`` gets one of its own (A2A lets the server make it,
    and then it must say it): the recipient sees it, and answers in it. A ``contextId``
    that names an ATP session of the caller and the tenant sends the session's next
    turn (ordered, in its transcript; refused while the session is not open).

    Raises:
        InvalidParams: not an A2A Message the carrier takes (or too large).
        TaskNotFound, UnsupportedOperation: it names a task (ATP carries one message
            per task: a later message is a new task in the same context).
    """
    try:
        check_payload(message)
    except InvalidA2AMessage as error:
        raise InvalidParams(f"message: {error}") from None
    if "taskId" in message:
        await visible_task(who, message["taskId"])
        raise UnsupportedOperation(
            "an ATP task holds one message: send the next one without taskId, in its contextId"
        )
    payload = message if "contextId" in message else {**message, "contextId": new_id("ctx")}
    session_id = await _session_between(who, payload["contextId"])

    async def build(ticket: Ticket) -> SendMessage | SendTurn:
        account_id = who.principal.account_id
        if session_id is not None:  # the next turn of the session the context names
            return SendTurn(session_id, who.agent_id, account_id, payload, ticket)
        return SendMessage(who.tenant, who.agent_id, account_id, payload, ticket)

    params = {"tenant": who.tenant, "message": message}
    reply = await answer_once(
        who.principal, SEND_SCOPE, message["messageId"], params, build, two_phase=True
    )
    status: dict[str, Any] = reply.body.get("message_status", reply.body)  # a turn's: nested
    return status


async def _session_between(who: Caller, context_id: object) -> str | None:
    """The ATP session ``context_id`` names, if the caller and the tenant are its two
    agents; None for any other context (a session of others is just a name here)."""
    if not isinstance(context_id, str) or not context_id.startswith("ses_"):
        return None
    session = await (await carrier().views()).session(context_id)
    if session is None:
        return None
    pair = {session.initiator_agent_id, session.recipient_agent_id}
    return context_id if pair == {who.agent_id, who.tenant} else None


async def sent_message(status: dict[str, Any], version: int | None = None) -> Message:
    """The message a send answered with ``status``, as committed (or at ``version``)."""
    message_id = aggregate_id(status["message"]["id"])
    rt = carrier()
    if version is not None:
        return (await rt.versions(Message, [(message_id, version)]))[message_id]
    found = await rt.aggregate(Message, message_id)
    assert found is not None, "an answered send is committed"
    return found


async def visible_task(who: Caller, task_id: object) -> Message:
    """The message behind ``task_id``, if the caller sent it to the tenant.

    Raises:
        TaskNotFound: no such task, or not the caller's.
    """
    if not isinstance(task_id, str) or not task_id.startswith("msg_"):
        raise TaskNotFound()
    message = await carrier().aggregate(Message, aggregate_id(task_id))
    if (
        message is None
        or message.sender_agent_id != who.agent_id
        or message.recipient_agent_id != who.tenant
    ):
        raise TaskNotFound()
    return message


async def follow(
    rt: Carrier, message: Message, heartbeat: float = math.inf
) -> AsyncIterator[Message]:
    """``message`` now and after each of its later events, one at a time (so a stream
    shows every state the task went through, however fast), until its task ends or the
    carrier stops; the same message again after ``heartbeat`` seconds without news.

    The message is folded forward in place. This runs outside the request's context
    (a streamed body), so it is handed the carrier.
    """
    yield message
    while task_state(message) not in TERMINAL_TASK_STATES and not rt.arrivals.closed:
        signal = rt.arrivals.event(message.message_id)  # before reading: none slips by
        news = await rt.history_after(message.id, message.version)
        for event in news:
            message = event.mutate(message)  # type: ignore[attr-defined]
            yield message
        if news:
            continue
        with trio.move_on_after(heartbeat):
            await signal.wait()
        if not signal.is_set():
            yield message


async def settle(rt: Carrier, message: Message, seconds: float) -> Message:
    """``message`` once its task has ended, or as it stands after ``seconds``."""
    latest = message
    with trio.move_on_after(seconds):
        async for latest in follow(rt, message):  # noqa: B007 (the last one is kept)
            pass
    return latest


async def list_tasks(who: Caller, request: ListRequest) -> dict[str, Any]:
    """A ListTasksResponse: the caller's tasks at the tenant, the latest status change
    first (as A2A's own server sorts them)."""
    rt = carrier()
    views = await rt.views()
    page, total = await views.sent_messages(
        who.agent_id,
        who.tenant,
        context_id=request.context_id,
        task_state=request.task_state,
        status_after=iso(request.status_after),
        before=request.before,
        limit=request.page_size + 1,  # one more: is there a next page?
    )
    more = len(page) > request.page_size
    page = page[: request.page_size]
    messages = await rt.aggregates(Message, [aggregate_id(m) for _, _, m in page])
    tasks = []
    for message in messages:
        task = task_document(message, request.history_length)
        if not request.include_artifacts:
            task.pop("artifacts", None)
        tasks.append(task)
    return {
        "tasks": tasks,
        "nextPageToken": f"{page[-1][1]}@{page[-1][0]}" if more else "",
        "pageSize": request.page_size,
        "totalSize": total,
    }
