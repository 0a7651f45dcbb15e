"""What both bindings share: the body, the version, and each operation's answer.

An operation here takes its parameters as one mapping (a JSON-RPC ``params`` object,
or an HTTP+JSON body with the path's and query's values merged in) and answers the
A2A response object; the bindings only wrap it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

from quart import request

from atp.actors.commands import CancelMessage
from atp.api._liveness import liveness_document
from atp.api._requests import body_bytes, carrier
from atp.api.a2a._errors import (
    A2AError,
    ParseError,
    UnsupportedOperation,
    VersionNotSupported,
)
from atp.api.a2a._params import history_length, list_request, send_request, task_id
from atp.api.a2a._push_configs import (
    config_request,
    configure,
    create_config,
    delete_config,
    get_config,
    list_configs,
)
from atp.api.a2a._streams import sse
from atp.api.a2a._tasks import (
    Caller,
    caller,
    list_tasks,
    send,
    sent_message,
    settle,
    visible_task,
)
from atp.domain import Message
from atp.wire import (
    TERMINAL_TASK_STATES,
    NotJson,
    parse_json,
    sent_task,
    task_document,
    task_state,
)

__all__ = ["STREAMING", "UNARY", "check_version", "read_body", "stream", "unary"]

_SUPPORTED_MAJOR = "1"


def check_version() -> None:
    """A2A-Version must be 1.x (A2A §3.6: none, or an empty one, means 0.3).

    Raises:
        VersionNotSupported
    """
    version = request.headers.get("A2A-Version") or request.args.get("A2A-Version") or ""
    if version.strip().split(".")[0] != _SUPPORTED_MAJOR:
        raise VersionNotSupported(
            requestedVersion=version.strip() or "0.3", supportedVersions="1.0"
        )


async def read_body() -> Any:
    """The request's JSON body (None when it has none).

    Raises:
        ParseError: too large, or not JSON.
    """
    limit = carrier().settings.max_body_bytes
    if (request.content_length or 0) > limit:
        raise ParseError(f"the body is over {limit} bytes")
    raw = await body_bytes()
    if len(raw) > limit:
        raise ParseError(f"the body is over {limit} bytes")
    if not raw.strip():
        return None
    try:
        return parse_json(raw)
    except NotJson as error:
        raise ParseError(str(error)) from None


async def _who(params: Mapping[str, Any]) -> Caller:
    return await caller(params.get("tenant"))


async def _send_message(params: Mapping[str, Any]) -> dict[str, Any]:
    sending = send_request(params)
    caller = await _who(params)
    receipts = None if sending.push_config is None else config_request(sending.push_config)
    status = await send(caller, sending.message)
    if receipts is not None:  # from the send on
        await configure(caller, status["message"]["id"], receipts, after_version=1)
    if sending.return_immediately:  # as sent: the answer says all of it
        task = sent_task(status, sending.history_length)
        return {"task": await _with_liveness(task, caller.tenant)}
    rt = carrier()
    message = await settle(rt, await sent_message(status), rt.settings.a2a_blocking_wait)
    return {"task": await _task(message, sending.history_length)}


async def _get_task(params: Mapping[str, Any]) -> dict[str, Any]:
    length = history_length(params.get("historyLength"))
    return await _task(await visible_task(await _who(params), task_id(params)), length)


async def _task(message: Message, history_length: int | None) -> dict[str, Any]:
    """The task of ``message``, with its recipient's liveness."""
    task = task_document(message, history_length)
    return await _with_liveness(task, message.recipient_agent_id)


async def _with_liveness(task: dict[str, Any], recipient_agent_id: str) -> dict[str, Any]:
    liveness = await liveness_document(carrier(), recipient_agent_id)
    task["metadata"]["atp"]["recipientLastSeenAt"] = liveness["last_seen_at"]
    task["metadata"]["atp"]["recipientReachable"] = liveness["reachable"]
    return task


async def _list_tasks(params: Mapping[str, Any]) -> dict[str, Any]:
    return await list_tasks(await _who(params), list_request(params))


async def _cancel_task(params: Mapping[str, Any]) -> dict[str, Any]:
    caller = await _who(params)
    message = await visible_task(caller, task_id(params))
    await carrier().ask(CancelMessage(caller.tenant, message.message_id, caller.agent_id))
    canceled = await visible_task(caller, message.message_id)  # as the cancel left it
    return await _task(canceled, history_length(params.get("historyLength")))


def _on_configs(
    operation: Callable[[Caller, Mapping[str, Any]], Awaitable[dict[str, Any]]],
) -> Callable[[Mapping[str, Any]], Awaitable[dict[str, Any]]]:
    async def run(params: Mapping[str, Any]) -> dict[str, Any]:
        return await operation(await _who(params), params)

    return run


async def _extended_card(params: Mapping[str, Any]) -> dict[str, Any]:
    await _who(params)
    raise UnsupportedOperation("this agent has no extended card")


UNARY: dict[str, Callable[[Mapping[str, Any]], Any]] = {
    "SendMessage": _send_message,
    "GetTask": _get_task,
    "ListTasks": _list_tasks,
    "CancelTask": _cancel_task,
    "CreateTaskPushNotificationConfig": _on_configs(create_config),
    "GetTaskPushNotificationConfig": _on_configs(get_config),
    "ListTaskPushNotificationConfigs": _on_configs(list_configs),
    "DeleteTaskPushNotificationConfig": _on_configs(delete_config),
    "GetExtendedAgentCard": _extended_card,
}
STREAMING = frozenset({"SendStreamingMessage", "SubscribeToTask"})


async def unary(method: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """The response object of a unary operation."""
    result: dict[str, Any] = await UNARY[method](params)
    return result


async def stream(
    method: str,
    params: Mapping[str, Any],
    wrap: Callable[[dict[str, Any]], dict[str, Any]],
    wrap_error: Callable[[A2AError], dict[str, Any]],
) -> AsyncIterator[bytes]:
    """A streaming operation's Server-Sent Events. Everything that can fail before the
    first event fails here, so the binding answers it as a plain error."""
    caller_ = await _who(params)
    if method == "SendStreamingMessage":
        sending = send_request(params)
        config = None if sending.push_config is None else config_request(sending.push_config)
        status, length = await send(caller_, sending.message), sending.history_length
        if config is not None:
            await configure(caller_, status["message"]["id"], config, after_version=1)
        # From the send on: the recipient may have answered already, and the stream
        # shows every state the task went through.
        message = await sent_message(status, version=1)
    else:
        message = await visible_task(caller_, task_id(params))
        length = history_length(params.get("historyLength"))
        if task_state(message) in TERMINAL_TASK_STATES:
            raise UnsupportedOperation("the task has ended: GetTask shows it")
    return sse(carrier(), message, length, wrap, wrap_error)
