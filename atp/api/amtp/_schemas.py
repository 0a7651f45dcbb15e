"""The schema registry (``/v1/admin/schemas``) and the checks a send's payload passes.

An account (the AMTP admin) registers JSON Schemas (Draft 2020-12) under AMTP schema
ids; each is an ``AmtpSchema`` in the ledger. A message naming a ``schema`` is checked
against the schema of that id in the registry of every account it touches here (the
local sender's, each local recipient's): refused with each error's place
(``SCHEMA_VALIDATION_FAILED``) before anything is queued. An agent that declared the
schemas it accepts (``supported_schemas``, ids or ``prefix*`` patterns) takes only
messages naming one of them (``UNSUPPORTED_SCHEMA``, with the versions of the same
entity it does accept: AMTP's negotiation).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from quart import Blueprint, Response, request

from atp.actors import Ticket, request_hash
from atp.actors.schema_commands import DeleteSchema, RegisterSchema
from atp.amtp import AmtpError, check_definition, payload_errors
from atp.api._requests import answer_once, carrier
from atp.api.amtp._edge import admin_caller, amtp_route, answer, read_json
from atp.domain import Agent, parse_schema_id, schema_matches
from atp.errors import NotFound, SchemaExists
from atp.projections import SchemaRow
from atp.wire import iso

__all__ = ["blueprint", "check_patterns", "check_payload_schemas"]

blueprint = Blueprint("amtp_schemas", __name__)


class _InvalidSchemaId(AmtpError):
    status, code, default = (
        400,
        "INVALID_SCHEMA_ID",
        "not a schema id agntcy:<domain>.<entity>.v<N>",
    )


class _SchemaNotFound(AmtpError):
    status, code, default = 404, "SCHEMA_NOT_FOUND", "no schema of that id is registered"


class _SchemaAlreadyExists(AmtpError):
    status, code, default = 409, "SCHEMA_ALREADY_EXISTS", "a schema of that id is registered"


class _SchemaValidationFailed(AmtpError):
    status, code, default = 400, "SCHEMA_VALIDATION_FAILED", "the payload breaks its schema"


class _UnsupportedSchema(AmtpError):
    status, code, default = 400, "UNSUPPORTED_SCHEMA", "a recipient does not accept the schema"


@blueprint.post("/v1/admin/schemas")
@amtp_route
async def register() -> Response:
    body = await read_json()
    params = body if isinstance(body, dict) else {}
    schema_id = _schema_id(params.get("id"))
    definition = check_definition(params.get("definition"))
    return await _register(schema_id, definition, replace=params.get("force") is True)


@blueprint.put("/v1/admin/schemas/<schema_id>")
@amtp_route
async def update(schema_id: str) -> Response:
    body = await read_json()
    params = body if isinstance(body, dict) else {}
    definition = check_definition(params.get("definition"))
    return await _register(_schema_id(schema_id), definition, replace=True, must_exist=True)


async def _register(
    schema_id: str, definition: dict[str, Any], *, replace: bool, must_exist: bool = False
) -> Response:
    principal = await admin_caller()
    body = {"id": schema_id, "definition": definition, "replace": replace, "update": must_exist}

    async def build(ticket: Ticket) -> RegisterSchema:
        return RegisterSchema(
            principal.account_id, schema_id, definition, replace, ticket, must_exist
        )

    # Kept per request (the same registration asked again answers as before); another
    # definition is another request.
    key = f"{schema_id} {request_hash(body)}"
    try:
        reply = await answer_once(
            principal, f"{request.method} /v1/admin/schemas", key, body, build
        )
    except SchemaExists:
        hint = "Use force=true to overwrite existing schema"
        raise _SchemaAlreadyExists(schema_id=schema_id, hint=hint) from None
    except NotFound:
        raise _SchemaNotFound(schema_id=schema_id) from None
    return answer(reply.body, reply.status)


@blueprint.delete("/v1/admin/schemas/<schema_id>")
@amtp_route
async def delete(schema_id: str) -> Response:
    principal = await admin_caller()
    schema_id = _schema_id(schema_id)
    rows = await _rows(principal.account_id, schema_id=schema_id)
    if not rows:
        raise _SchemaNotFound(schema_id=schema_id)
    key = f"{schema_id} {rows[0].published_at}"  # this registration's deletion

    async def build(ticket: Ticket) -> DeleteSchema:
        return DeleteSchema(principal.account_id, schema_id, ticket)

    try:
        reply = await answer_once(principal, "DELETE /v1/admin/schemas", key, {}, build)
    except NotFound:
        raise _SchemaNotFound(schema_id=schema_id) from None
    return answer(reply.body, reply.status)


@blueprint.get("/v1/admin/schemas")
@amtp_route
async def list_schemas() -> Response:
    principal = await admin_caller()
    rows = await _rows(principal.account_id, pattern=request.args.get("pattern"))
    schemas = [_id_object(row) for row in rows]
    return answer({"schemas": schemas, "count": len(schemas), "timestamp": _now()})


@blueprint.get("/v1/admin/schemas/stats")
@amtp_route
async def stats() -> Response:
    principal = await admin_caller()
    rows = await _rows(principal.account_id)
    body = {
        "total_schemas": len(rows),
        "domains": dict(Counter(row.domain for row in rows)),
        "entities": dict(Counter(row.entity for row in rows)),
    }
    return answer({"stats": body, "timestamp": _now()})


@blueprint.get("/v1/admin/schemas/<schema_id>")
@amtp_route
async def show(schema_id: str) -> Response:
    principal = await admin_caller()
    row = await _one(principal.account_id, _schema_id(schema_id))
    schema = {"id": _id_object(row), "definition": row.definition, "published_at": row.published_at}
    return answer({"schema": schema, "timestamp": _now()})


@blueprint.post("/v1/admin/schemas/<schema_id>/validate")
@amtp_route
async def validate(schema_id: str) -> Response:
    """Check a payload against a registered schema (``{"payload": …}``)."""
    principal = await admin_caller()
    row = await _one(principal.account_id, _schema_id(schema_id))
    body = await read_json()
    payload = body.get("payload") if isinstance(body, dict) else None
    errors = payload_errors(row.definition, payload)
    return answer({"valid": not errors, "errors": errors, "warnings": [], "timestamp": _now()})


async def check_payload_schemas(
    document: dict[str, Any], accounts: Iterable[str], agents: Iterable[tuple[str, Agent]]
) -> None:
    """A message's ``schema`` against the registries of ``accounts``, and against what
    each recipient agent (its address, the agent) accepts.

    Raises:
        _UnsupportedSchema: an agent that declared its schemas does not accept this one.
        _SchemaValidationFailed: the payload breaks the schema an account registered.
    """
    schema = document.get("schema")
    for address, agent in agents:
        supported = agent.supported_schemas
        if supported and (schema is None or not any(schema_matches(p, schema) for p in supported)):
            raise _UnsupportedSchema(
                f"{address} accepts {', '.join(supported)}",
                recipient=address,
                requested=schema,
                supported=list(supported),
                alternatives=_alternatives(schema, supported),
            )
    if schema is None:
        return
    for account_id in dict.fromkeys(accounts):
        for row in await _rows(account_id, schema_id=schema):
            errors = payload_errors(row.definition, document.get("payload"))
            if errors:
                raise _SchemaValidationFailed(
                    f"the payload breaks {schema}", schema=schema, errors=errors
                )


async def check_patterns(account_id: str, patterns: object) -> tuple[str, ...]:
    """An agent's ``supported_schemas``: ids the account registered, or ``prefix*``
    patterns (``agntcy:commerce.*``).

    Raises:
        _InvalidSchemaId: anything else.
    """
    if patterns is None:
        return ()
    if not isinstance(patterns, list) or not all(isinstance(p, str) for p in patterns):
        raise _InvalidSchemaId("supported_schemas must be a list of schema ids or patterns")
    for pattern in patterns:
        if pattern.endswith("*"):
            if not schema_matches(pattern, pattern[:-1]) or "." not in pattern:
                raise _InvalidSchemaId(f"not a pattern agntcy:<prefix>*: {pattern}")
        elif parse_schema_id(pattern) is None:
            raise _InvalidSchemaId(f"not a schema id: {pattern}")
        elif not await _rows(account_id, schema_id=pattern):
            raise _SchemaNotFound(f"{pattern} is not registered", schema_id=pattern)
    return tuple(dict.fromkeys(patterns))


def _alternatives(schema: str | None, supported: Iterable[str]) -> list[str]:
    """What the agent accepts of the same ``domain.entity``, other versions."""
    wanted = parse_schema_id(schema)
    if wanted is None:
        return []
    same = f"agntcy:{wanted.domain}.{wanted.entity}."
    return [p for p in supported if p.startswith(same)]


def _schema_id(value: object) -> str:
    if parse_schema_id(value) is None:
        raise _InvalidSchemaId(schema_id=str(value)[:200])
    assert isinstance(value, str)
    return value


async def _rows(
    account_id: str, *, schema_id: str | None = None, pattern: str | None = None
) -> list[SchemaRow]:
    views = await carrier().views()
    return await views.amtp.schemas(account_id, schema_id=schema_id, pattern=pattern)


async def _one(account_id: str, schema_id: str) -> SchemaRow:
    rows = await _rows(account_id, schema_id=schema_id)
    if not rows:
        raise _SchemaNotFound(schema_id=schema_id)
    return rows[0]


def _id_object(row: SchemaRow) -> dict[str, str]:
    return {
        "domain": row.domain,
        "entity": row.entity,
        "version": f"v{row.version}",
        "raw": row.schema_id,
    }


def _now() -> str | None:
    return iso(carrier().now())
