"""SchemasActor: one account's schema under one AMTP schema id, its only writer.

Registrations of one id by one account queue here, so "already registered" and the
registration are one step."""

from __future__ import annotations

from typing import Any, assert_never

from atp.actors._actor import Actor
from atp.actors._context import ActorContext
from atp.actors.commands import Reply
from atp.actors.schema_commands import DeleteSchema, RegisterSchema, SchemaCommand
from atp.domain import AmtpSchema
from atp.errors import NotFound, SchemaExists
from atp.wire import iso

__all__ = ["SchemasActor"]


class SchemasActor(Actor[SchemaCommand]):
    """One account's schema id."""

    max_idle = 2.0  # schemas change rarely
    kind = "amtp_schema"

    def __init__(self, key: str, context: ActorContext) -> None:
        super().__init__(key, context)
        self.account_id, _, self.schema_id = key.partition(" ")
        self.schema: AmtpSchema | None = None

    async def rehydrate(self) -> None:
        schema_id = AmtpSchema.create_id(self.account_id, self.schema_id)
        self.schema = await self.context.ledger.get(AmtpSchema, schema_id)

    async def handle(self, command: SchemaCommand) -> Reply:
        now = self.context.now()
        schema = self.schema
        live = schema is not None and not schema.deleted
        match command:
            case RegisterSchema():
                if live and not command.replace:
                    raise SchemaExists()
                if command.must_exist and not live:
                    raise NotFound("schema")
                if schema is None:
                    schema = self.schema = AmtpSchema.register(
                        self.account_id, self.schema_id, command.definition, now
                    )
                else:
                    schema.replace(command.definition, now)
                self.stage(schema)
                status = 200 if command.must_exist else 201
                return self.answer(command.ticket, status, _answer(schema, "registered"), now)
            case DeleteSchema():
                if schema is None or not live:
                    raise NotFound("schema")
                schema.delete(now)
                self.stage(schema)
                return self.answer(command.ticket, 200, _answer(schema, "deleted"), now)
            case _:
                assert_never(command)


def _answer(schema: AmtpSchema, what: str) -> dict[str, Any]:
    return {
        "message": f"Schema {what} successfully",
        "schema_id": schema.schema_id,
        "timestamp": iso(schema.published_at),
    }
