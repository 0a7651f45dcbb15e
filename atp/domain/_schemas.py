"""AmtpSchema: a JSON Schema an account registered under an AMTP schema id.

Ids are AGNTCY's, ``agntcy:<domain>.<entity>.v<N>`` (AMTP §6). Each account keeps its
own registry: its agents' messages are checked against its schemas. A schema is
registered, replaced (``force``, or an update) or deleted; its definition is a Draft
2020-12 JSON Schema, checked when registered (``atp.amtp.check_definition``).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from uuid import UUID

import attrs
from eventsourcing.domain import Aggregate, event

from atp.domain._ids import aggregate_id

__all__ = ["AmtpSchema", "SchemaId", "parse_schema_id", "schema_matches"]

_ID = re.compile(r"agntcy:([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.v([0-9]{1,6})")
_PATTERN = re.compile(r"agntcy:[A-Za-z0-9_.-]*\*")


@attrs.frozen
class SchemaId:
    domain: str
    entity: str
    version: int

    def __str__(self) -> str:
        return f"agntcy:{self.domain}.{self.entity}.v{self.version}"


def parse_schema_id(value: object) -> SchemaId | None:
    """``agntcy:<domain>.<entity>.v<N>`` as its parts, or None."""
    if not isinstance(value, str) or (found := _ID.fullmatch(value)) is None:
        return None
    return SchemaId(found[1], found[2], int(found[3]))


def schema_matches(pattern: str, schema: str) -> bool:
    """Whether an agent's declared ``pattern`` (an id, or a prefix ending in ``*``, as
    ``agntcy:commerce.*``) covers ``schema``."""
    if pattern.endswith("*"):
        return _PATTERN.fullmatch(pattern) is not None and schema.startswith(pattern[:-1])
    return pattern == schema


class AmtpSchema(Aggregate):
    """One account's schema under one id."""

    class Registered(Aggregate.Created):
        account_id: str
        schema_id: str
        definition: dict[str, Any]
        at: datetime

    class Replaced(Aggregate.Event):
        definition: dict[str, Any]
        at: datetime

    class Deleted(Aggregate.Event):
        at: datetime

    @staticmethod
    def create_id(account_id: str, schema_id: str) -> UUID:
        return aggregate_id(f"schema:{account_id}:{schema_id}")

    @classmethod
    def register(
        cls, account_id: str, schema_id: str, definition: dict[str, Any], at: datetime
    ) -> AmtpSchema:
        return cls._create(
            cls.Registered,
            id=cls.create_id(account_id, schema_id),
            account_id=account_id,
            schema_id=schema_id,
            definition=definition,
            at=at,
        )

    @event(Registered)
    def __init__(
        self, account_id: str, schema_id: str, definition: dict[str, Any], at: datetime
    ) -> None:
        self.account_id = account_id
        self.schema_id = schema_id
        self.definition = definition
        self.published_at = at
        self.deleted = False

    @event(Replaced)
    def replace(self, definition: dict[str, Any], at: datetime) -> None:
        """A new definition (or the first again, after a deletion)."""
        self.definition = definition
        self.published_at = at
        self.deleted = False

    @event(Deleted)
    def delete(self, at: datetime) -> None:
        self.deleted = True
