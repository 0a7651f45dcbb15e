"""A2A's HTTP+JSON binding, under ``/a2a/{tenant}/`` (A2A §11).

An operation's parameters are the body's, the query string's and the path's together;
the path's tenant and task id win, and a body that names others is refused. Errors
are ``google.rpc.Status`` bodies with the A2A error's HTTP status.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec

from quart import Blueprint, Response, request

from atp.api._requests import event_stream
from atp.api.a2a._errors import A2AError, InvalidParams, Unauthenticated, from_carrier, rest_error
from atp.api.a2a._operations import check_version, read_body, stream, unary
from atp.errors import AtpError
from atp.observe import describe_exception
from atp.wire import A2A_CONTENT_TYPE

__all__ = ["blueprint"]

log = logging.getLogger("atp.api.a2a")

blueprint = Blueprint("a2a_rest", __name__, url_prefix="/a2a/<tenant>")

P = ParamSpec("P")
_COMPACT = json.JSONEncoder(separators=(",", ":"))


def _answered(handler: Callable[P, Awaitable[Response]]) -> Callable[P, Awaitable[Response]]:
    """Answer every failure of ``handler`` as a Status body."""

    @functools.wraps(handler)
    async def answered(*args: P.args, **kwargs: P.kwargs) -> Response:
        try:
            check_version()
            return await handler(*args, **kwargs)
        except A2AError as error:
            return _error(error)
        except AtpError as error:
            return _error(from_carrier(error))
        except Exception as error:  # a bug: logged by class and place only
            log.error("unexpected error in an A2A call (%s)", describe_exception(error))
            return _error(A2AError())

    return answered


async def _params(tenant: str, **path: str) -> dict[str, Any]:
    body = await read_body() if request.method == "POST" else None
    if body is not None and not isinstance(body, dict):
        raise InvalidParams("the body must be a JSON object")
    params: dict[str, Any] = {**request.args.to_dict(), **(body or {})}
    for name, value in {"tenant": tenant, **path}.items():
        if params.get(name, value) != value:
            raise InvalidParams(f"the body's {name} is not the path's")
        params[name] = value
    return params


async def _unary(method: str, params: dict[str, Any]) -> Response:
    return _json(await unary(method, params), 200)


async def _stream(method: str, params: dict[str, Any]) -> Response:
    return event_stream(await stream(method, params, lambda response: response, rest_error))


@blueprint.post("/message:send")
@_answered
async def send_message(tenant: str) -> Response:
    return await _unary("SendMessage", await _params(tenant))


@blueprint.post("/message:stream")
@_answered
async def send_streaming_message(tenant: str) -> Response:
    return await _stream("SendStreamingMessage", await _params(tenant))


@blueprint.get("/tasks")
@_answered
async def list_tasks(tenant: str) -> Response:
    return await _unary("ListTasks", await _params(tenant))


@blueprint.get("/tasks/<task_id>")
@_answered
async def get_task(tenant: str, task_id: str) -> Response:
    return await _unary("GetTask", await _params(tenant, id=task_id))


@blueprint.post("/tasks/<task_id>:cancel")
@_answered
async def cancel_task(tenant: str, task_id: str) -> Response:
    return await _unary("CancelTask", await _params(tenant, id=task_id))


@blueprint.route("/tasks/<task_id>:subscribe", methods=["GET", "POST"])
@_answered
async def subscribe(tenant: str, task_id: str) -> Response:
    return await _stream("SubscribeToTask", await _params(tenant, id=task_id))


@blueprint.route("/tasks/<task_id>/pushNotificationConfigs", methods=["GET", "POST"])
@_answered
async def push_configs(tenant: str, task_id: str) -> Response:
    creating = request.method == "POST"
    method = "Create" if creating else "List"
    suffix = "TaskPushNotificationConfig" if creating else "TaskPushNotificationConfigs"
    return await _unary(method + suffix, await _params(tenant, taskId=task_id))


@blueprint.route("/tasks/<task_id>/pushNotificationConfigs/<config_id>", methods=["GET", "DELETE"])
@_answered
async def push_config(tenant: str, task_id: str, config_id: str) -> Response:
    method = "Get" if request.method == "GET" else "Delete"
    params = await _params(tenant, taskId=task_id, id=config_id)
    return await _unary(method + "TaskPushNotificationConfig", params)


@blueprint.get("/extendedAgentCard")
@_answered
async def extended_card(tenant: str) -> Response:
    return await _unary("GetExtendedAgentCard", await _params(tenant))


def _json(body: dict[str, Any], status: int) -> Response:
    return Response(_COMPACT.encode(body), status, content_type=A2A_CONTENT_TYPE)


def _error(error: A2AError) -> Response:
    response = Response(
        _COMPACT.encode(rest_error(error)), error.http_status, content_type="application/json"
    )
    if isinstance(error, Unauthenticated):
        response.headers["WWW-Authenticate"] = 'Bearer realm="atp"'
    elif error.http_status == 503:
        response.headers["Retry-After"] = "1"
    return response
