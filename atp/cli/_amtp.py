"""AMTP from the command line: ``schema register|list|show|delete|validate``, the
account's schema registry, and ``workflow show``, a workflow an alias started.

The schema commands act with the account's key (``atp init`` keeps it), as the AMTP
admin routes ask. A schema is a JSON Schema (Draft 2020-12) read from a file,
registered under an AMTP schema id (``agntcy:<domain>.<entity>.v<N>``); a payload is
checked against it before any message naming it is taken (docs/amtp.md, "Schemas").
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from atp.cli._context import Context
from atp.cli._output import CliError, as_json
from atp.client import amtp_calls

__all__ = [
    "schema_delete",
    "schema_list",
    "schema_register",
    "schema_show",
    "schema_validate",
    "workflow_show",
]


def _json_file(path: str) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise CliError(f"cannot read {path}: {error.strerror}") from None
    except ValueError as error:
        raise CliError(f"{path} is not JSON: {error}") from None


def _account_key(ctx: Context) -> str:
    return ctx.home.credentials().account_token


def schema_register(ctx: Context, schema_id: str, file: str) -> None:
    """Register the schema in ``file`` (``--force``: replace one registered)."""
    definition = _json_file(file)
    force = "--force" in ctx.invocation.flags
    with ctx.client() as client:
        registered = client.call(
            amtp_calls.register_schema(_account_key(ctx), schema_id, definition, force=force)
        )
    ctx.out.report([f"Schema registered: {registered}"], {"schema_id": registered})


def schema_list(ctx: Context) -> None:
    """The account's schema ids (``--pattern``: an id, a domain or a domain.entity)."""
    pattern = ctx.invocation.options.get("--pattern")
    with ctx.client() as client:
        ids = client.call(amtp_calls.schemas(_account_key(ctx), pattern))
    ctx.out.report(list(ids) or ["No schemas."], {"schemas": list(ids)})


def schema_show(ctx: Context, schema_id: str) -> None:
    """A schema's definition, as registered."""
    with ctx.client() as client:
        entry = client.call(amtp_calls.schema(_account_key(ctx), schema_id))
    lines = [
        f"Schema: {entry.schema_id}",
        f"Published: {entry.published_at}",
        json.dumps(entry.definition, indent=2),
    ]
    ctx.out.report(lines, as_json(entry))


def schema_delete(ctx: Context, schema_id: str) -> None:
    with ctx.client() as client:
        deleted = client.call(amtp_calls.delete_schema(_account_key(ctx), schema_id))
    ctx.out.report([f"Schema deleted: {deleted}"], {"schema_id": deleted})


def schema_validate(ctx: Context, schema_id: str, file: str) -> None:
    """Check the payload in ``file`` against a schema; exit 1 if it breaks it."""
    payload = _json_file(file)
    with ctx.client() as client:
        check = client.call(amtp_calls.validate_payload(_account_key(ctx), schema_id, payload))
    if check.valid:
        ctx.out.report([f"Valid against {schema_id}."], as_json(check))
        return
    reasons = [f"{e.get('path') or '/'}: {e.get('message')}" for e in check.errors]
    ctx.out.report([f"Not valid against {schema_id}:", *reasons], as_json(check))
    raise CliError(f"the payload breaks {schema_id}")


def workflow_show(ctx: Context, workflow_id: str) -> None:
    """A workflow the alias started: where it stands and each participant's status."""
    me = ctx.identity()
    with ctx.client() as client:
        workflow = client.workflow(workflow_id, token=me.token)
    lines = [
        f"Workflow: {workflow.workflow_id} ({workflow.type})",
        f"Status: {workflow.status}",
        *(f"  {address}: {status}" for address, status in workflow.participants),
    ]
    ctx.out.report(lines, as_json(workflow))
