"""The commands of a schema's actor: one account's schema under one AMTP schema id."""

from __future__ import annotations

from typing import Any, final

import attrs

from atp.actors._idempotency import Ticket

__all__ = ["DeleteSchema", "RegisterSchema", "SchemaCommand", "schema_key"]


def schema_key(account_id: str, schema_id: str) -> str:
    """The actor of ``account_id``'s schema ``schema_id``."""
    return f"{account_id} {schema_id}"


@final
@attrs.frozen
class RegisterSchema:
    """Register a schema; ``replace`` lets it take the place of one registered before
    (an update, or ``force``)."""

    account_id: str
    schema_id: str
    definition: dict[str, Any] = attrs.field(repr=False)
    replace: bool
    ticket: Ticket
    must_exist: bool = False  # an update: there must be one to replace
    key: str = attrs.field(init=False)

    @key.default
    def _key(self) -> str:
        return schema_key(self.account_id, self.schema_id)


@final
@attrs.frozen
class DeleteSchema:
    account_id: str
    schema_id: str
    ticket: Ticket
    key: str = attrs.field(init=False)

    @key.default
    def _key(self) -> str:
        return schema_key(self.account_id, self.schema_id)


SchemaCommand = RegisterSchema | DeleteSchema
