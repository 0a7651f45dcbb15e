"""SchemasView: each account's AMTP schema registry, for its listing and for the
payload checks of sends to its agents."""

from __future__ import annotations

import json
from typing import Any

from eventsourcing.domain import DomainEventProtocol

from atp.domain import AmtpSchema, parse_schema_id
from atp.projections._view import View, Writer
from atp.wire import iso

__all__ = ["SchemasView"]


class SchemasView(View):
    """Schemas by account and id."""

    name = "amtp_schemas"
    tables = ("atp_amtp_schemas",)
    aggregates = (AmtpSchema,)

    def apply(self, out: Writer, position: int, event: DomainEventProtocol[Any]) -> None:
        ledger_id = str(event.originator_id)
        match event:
            case AmtpSchema.Registered():
                parts = parse_schema_id(event.schema_id)
                assert parts is not None, "a registered id was checked"
                out.execute(
                    "INSERT INTO atp_amtp_schemas (ledger_id, account_id, schema_id, domain,"
                    " entity, version, definition, published_at, deleted)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0)",
                    (
                        ledger_id,
                        event.account_id,
                        event.schema_id,
                        parts.domain,
                        parts.entity,
                        parts.version,
                        json.dumps(event.definition),
                        iso(event.at),
                    ),
                )
            case AmtpSchema.Replaced():
                out.execute(
                    "UPDATE atp_amtp_schemas SET definition = ?, published_at = ?, deleted = 0"
                    " WHERE ledger_id = ?",
                    (json.dumps(event.definition), iso(event.at), ledger_id),
                )
            case AmtpSchema.Deleted():
                out.execute(
                    "UPDATE atp_amtp_schemas SET deleted = 1 WHERE ledger_id = ?", (ledger_id,)
                )
