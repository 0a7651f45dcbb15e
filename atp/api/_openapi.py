"""``GET /openapi.json``: the HTTP contract as an OpenAPI 3.1 document.

Built once from the route table (``_openapi_routes``), the component schemas
(``_openapi_schemas``, request bodies read from the attrs classes that parse them) and
the error classes of ``atp.errors``, whose status, code and fixed message each error
response lists. The document says what the server does, quirks included (see the
description below), so schemathesis can hold the server to it.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from typing import Any

from quart import Blueprint

import atp
from atp.api._openapi_audit import AUDIT_ROUTES, AUDIT_SCHEMAS
from atp.api._openapi_batches import BATCH_ROUTES, BATCH_SCHEMAS
from atp.api._openapi_replays import REPLAY_ROUTES, REPLAY_SCHEMAS
from atp.api._openapi_routes import IDEMPOTENT, KEYED, KIND, TWO_PHASE, Route
from atp.api._openapi_routes import ROUTES as CARRIER_ROUTES
from atp.api._openapi_schemas import SCHEMAS as CARRIER_SCHEMAS
from atp.api._openapi_schemas import ref
from atp.api._openapi_sessions import SESSION_SCHEMAS
from atp.api._openapi_workflows import WORKFLOW_ROUTES, WORKFLOW_SCHEMAS
from atp.errors import (
    AtpError,
    MalformedRequest,
    NotFound,
    RequestTimedOut,
    RequestTooLarge,
    ServerBusy,
    StoreUnavailable,
)

__all__ = ["ROUTES", "SCHEMAS", "blueprint", "openapi_document"]

ROUTES = (*CARRIER_ROUTES, *BATCH_ROUTES, *AUDIT_ROUTES, *REPLAY_ROUTES, *WORKFLOW_ROUTES)
SCHEMAS = {
    **CARRIER_SCHEMAS,
    **SESSION_SCHEMAS,
    **BATCH_SCHEMAS,
    **AUDIT_SCHEMAS,
    **REPLAY_SCHEMAS,
    **WORKFLOW_SCHEMAS,
}

blueprint = Blueprint("openapi", __name__)

_DESCRIPTION = """\
The ATP carrier's HTTP API, wire-compatible with the reference carrier (docs/api.md).

What every route does besides its own rules, as the reference's pipeline does:
- Query parameters and body parameters are one set (the body's win); a form body
  (`application/x-www-form-urlencoded`) is read like JSON with string values; any
  other content type is not read, so the route sees no body parameters.
- A POST whose body holds `"_method": "PUT"` (or PATCH, DELETE) is routed as that
  method; where no such route exists the answer is `404 not_found`.
- Bodies over 128,000 bytes (2,000,000 on the batch routes) are `413 unexpected_error`
  (the reference has no code of its own) and the connection closes. Malformed JSON,
  and a query string with a broken escape, non-UTF-8 text or a NUL, are
  `400 invalid_request`.
- A path id holding a NUL matches no route: `404 not_found`.
- Every answer carries `x-request-id`; every error is `{"error": {"code", "message"}}`
  with the fixed message of its code.
"""


@blueprint.get("/openapi.json")
async def openapi() -> dict[str, Any]:
    """This document (no authentication)."""
    return openapi_document()


@functools.cache
def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.1 document of every route the app serves."""
    paths: dict[str, dict[str, Any]] = defaultdict(dict)
    for route in ROUTES:
        paths[route.path][route.method.lower()] = _operation(route)
    return {
        "openapi": "3.1.0",
        "info": {"title": "ATP carrier", "version": atp.__version__, "description": _DESCRIPTION},
        "paths": dict(paths),
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "accountKey": _bearer("An account key, `ak_…`."),
                "agentKey": _bearer("An agent key, `agk_…`."),
                "auditorKey": _bearer("An account's read-only auditor key, `aud_…`."),
                "metricsToken": _bearer("The operator's `ATP_METRICS_TOKEN`, when set."),
            },
            "parameters": {
                "IdempotencyKey": {
                    "name": "Idempotency-Key",
                    "in": "header",
                    "required": True,
                    "description": "One request per (principal, route, key); a retry with "
                    "the same key and parameters replays the first answer (docs/api.md).",
                    "schema": {"type": "string", "minLength": 1, "maxLength": 200},
                },
            },
            "headers": {
                "RequestId": {
                    "description": "The caller's x-request-id if it is 20-200 bytes, else a "
                    "new one.",
                    "schema": {"type": "string"},
                },
            },
        },
    }


def _bearer(description: str) -> dict[str, str]:
    return {"type": "http", "scheme": "bearer", "description": description}


def _operation(route: Route) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": route.operation_id,
        "summary": route.summary,
        "security": (
            [{}, {"metricsToken": []}]
            if route.operator
            else [{f"{kind}Key": []} for kind in route.auth]
        ),
        "parameters": _parameters(route),
        "responses": {**_successes(route), **_errors(route)},
    }
    if route.body is not None:
        content = {"application/json": {"schema": ref(route.body)}}
        if route.form:
            content["application/x-www-form-urlencoded"] = {"schema": _form(route.body)}
        required = "required" in SCHEMAS[route.body]
        operation["requestBody"] = {"required": required, "content": content}
    return operation


def _parameters(route: Route) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in _path_names(route.path)
    ]
    found += [
        {"name": name, "in": "query", "required": name in route.required, "schema": schema}
        for name, schema in route.query.items()
    ]
    if route.idempotent:
        found.append({"$ref": "#/components/parameters/IdempotencyKey"})
    if route.stream:
        found.append(
            {
                "name": "Last-Event-ID",
                "in": "header",
                "required": False,
                "description": "Resume after this event id: a whole number below 2**63.",
                "schema": {"type": "string", "pattern": "^[0-9]{1,19}$"},
            }
        )
    return found


def _path_names(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{")]


def _form(name: str) -> dict[str, Any]:
    """The body as a form carries it: the same keys, every value a string."""
    schema = SCHEMAS[name]
    form: dict[str, Any] = {
        "type": "object",
        "properties": {key: {"type": "string"} for key in schema["properties"]},
    }
    if "required" in schema:
        form["required"] = schema["required"]
    return form


def _successes(route: Route) -> dict[str, Any]:
    answers: dict[str, Any] = {}
    for status, name in route.answers.items():
        if name == "EventStream":
            content = {"text/event-stream": {"schema": ref("StreamEvent")}}
        elif name == "InboxStream":
            content = {"text/event-stream": {"schema": ref("InboxEvent")}}
        elif name == "AuditEventStream":
            content = {"text/event-stream": {"schema": ref("AuditEvent")}}
        elif name == "Checkpoint":
            content = {"text/plain": {"schema": {"type": "string"}}}
        elif name == "OpenAPI":
            content = {"application/json": {"schema": {"type": "object"}}}
        elif name == "Metrics":  # the text format, or OpenMetrics when the scraper asks
            text = {"schema": {"type": "string"}}
            content = {"text/plain": text, "application/openmetrics-text": text}
        else:
            content = {"application/json": {"schema": ref(name)}}
        answer: dict[str, Any] = {
            "description": "Success." if status < 300 else "Not ready.",
            "headers": {"x-request-id": {"$ref": "#/components/headers/RequestId"}},
            "content": content,
        }
        if route.links and status < 300 and name != "NoClaim":
            answer["links"] = {
                target: {"operationId": target, **({"parameters": p} if p else {})}
                for target, p in route.links.items()
            }
        answers[str(status)] = answer
    return answers


def _errors(route: Route) -> dict[str, Any]:
    """The route's errors by status, each with its codes and their fixed messages."""
    classes: list[type[AtpError]] = [MalformedRequest, *route.errors]
    if 503 not in route.answers:  # /ready's 503 is its own document
        classes.append(ServerBusy)  # over the connection limit, before the request is read
    if route.path.startswith("/api/"):
        classes.append(StoreUnavailable)
    if route.method in ("POST", "PUT"):
        classes += [RequestTooLarge, RequestTimedOut]
    if route.method == "POST":
        classes.append(NotFound)  # "_method" may route the request where nothing is
    if route.auth:
        classes += [*KEYED, *KIND[route.auth]]
    if route.idempotent:
        classes += IDEMPOTENT
    if route.idempotent == "two_phase":
        classes += TWO_PHASE
    by_status: dict[int, dict[str, str]] = defaultdict(dict)
    for cls in classes:
        by_status[cls.status][cls.code] = cls.message
    # What the HTTP layer answers before any route runs (atp/http/_h11.py): headers over
    # 16 KiB, and a transfer coding it does not know.
    for status in (431, 501):
        by_status[status][MalformedRequest.code] = MalformedRequest.message
    return {
        str(status): {
            "description": ", ".join(sorted(codes)),
            "headers": _error_headers(status),
            "content": {"application/json": {"schema": _envelope(codes)}},
        }
        for status, codes in sorted(by_status.items())
    }


def _error_headers(status: int) -> dict[str, Any]:
    headers: dict[str, Any] = {"x-request-id": {"$ref": "#/components/headers/RequestId"}}
    if status == 503:
        headers["Retry-After"] = {
            "description": "Seconds to wait before trying again (the same idempotency key).",
            "schema": {"type": "string", "pattern": "^[0-9]+$"},
        }
    return headers


def _envelope(codes: dict[str, str]) -> dict[str, Any]:
    return {
        "allOf": [ref("Error")],
        "properties": {
            "error": {
                "properties": {
                    "code": {"enum": sorted(codes)},
                    "message": {"enum": sorted(set(codes.values()))},
                }
            }
        },
    }
