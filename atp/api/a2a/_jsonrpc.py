"""A2A's JSON-RPC 2.0 binding: ``POST /a2a``, every agent's, the tenant in ``params``.

Errors are answered with HTTP 200 and an ``error`` member, as JSON-RPC clients expect,
except a missing or unknown key: 401 with ``WWW-Authenticate``, before any method
runs. The streaming methods answer Server-Sent Events whose data are JSON-RPC
responses to the request's id; what fails before the first event is a plain error
response.
"""

from __future__ import annotations

import logging
from typing import Any

from quart import Blueprint, Response, jsonify

from atp.api._requests import event_stream
from atp.api.a2a._errors import (
    A2AError,
    InvalidParams,
    InvalidRequest,
    MethodNotFound,
    Unauthenticated,
    from_carrier,
    jsonrpc_error,
)
from atp.api.a2a._operations import STREAMING, UNARY, check_version, read_body, stream, unary
from atp.errors import AtpError
from atp.observe import describe_exception

__all__ = ["blueprint"]

log = logging.getLogger("atp.api.a2a")

blueprint = Blueprint("a2a_jsonrpc", __name__)


@blueprint.post("/a2a")
async def call() -> Response:
    request_id: Any = None
    try:
        envelope = await read_body()
        if isinstance(envelope, dict):
            request_id = envelope.get("id")
        method, params = _checked(envelope)
        check_version()
        if method in STREAMING:
            body = await stream(
                method,
                params,
                lambda result: {"jsonrpc": "2.0", "id": request_id, "result": result},
                lambda error: jsonrpc_error(request_id, error),
            )
            return event_stream(body)
        if method not in UNARY:
            raise MethodNotFound(f"no method {method!r}")
        result = await unary(method, params)
        return jsonify({"jsonrpc": "2.0", "id": request_id, "result": result})
    except A2AError as error:
        return _error(request_id, error)
    except AtpError as error:
        return _error(request_id, from_carrier(error))
    except Exception as error:  # a bug: logged by class and place only
        log.error("unexpected error in an A2A call (%s)", describe_exception(error))
        return _error(request_id, A2AError())


def _checked(envelope: object) -> tuple[str, dict[str, Any]]:
    """The method and params of a JSON-RPC 2.0 request (batches are not taken).

    Raises:
        InvalidRequest, InvalidParams
    """
    if not isinstance(envelope, dict) or envelope.get("jsonrpc") != "2.0":
        raise InvalidRequest("expected a JSON-RPC 2.0 request object")
    request_id = envelope.get("id")
    if isinstance(request_id, bool) or not isinstance(request_id, str | int | None):
        raise InvalidRequest("id must be a string, a number or null")
    method = envelope.get("method")
    if not isinstance(method, str):
        raise InvalidRequest("method must be a string")
    params = envelope.get("params", {})
    if not isinstance(params, dict):
        raise InvalidParams("params must be an object")
    return method, params


def _error(request_id: Any, error: A2AError) -> Response:
    response = jsonify(jsonrpc_error(request_id, error))
    if isinstance(error, Unauthenticated):
        response.status_code = 401
        response.headers["WWW-Authenticate"] = 'Bearer realm="atp"'
    elif error.http_status == 503:
        response.status_code = 503
        response.headers["Retry-After"] = "1"
    return response
