"""The AMTP admin calls an account makes (docs/amtp.md): its schema registry, with its
key as a bearer. Sent with ``Client.call`` / ``AsyncClient.call``:

    schema = atp.call(amtp_calls.schema(account_key, "agntcy:commerce.order.v1"))
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import attrs

from atp.client._call import Call, mutation, read
from atp.client._results import Answer

__all__ = [
    "SchemaCheck",
    "SchemaEntry",
    "delete_schema",
    "register_schema",
    "schema",
    "schemas",
    "validate_payload",
]


@attrs.frozen
class SchemaEntry(Answer):
    """A registered schema (``definition`` and ``published_at`` only when read alone)."""

    schema_id: str
    definition: dict[str, Any] | None = None
    published_at: str | None = None

    @classmethod
    def of(cls, data: dict[str, Any]) -> SchemaEntry:
        shown = data["schema"]
        return cls(shown["id"]["raw"], shown["definition"], shown["published_at"], document=data)


@attrs.frozen
class SchemaCheck(Answer):
    """A payload checked against a schema: each error with its JSON Pointer."""

    valid: bool
    errors: tuple[dict[str, Any], ...]

    @classmethod
    def of(cls, data: dict[str, Any]) -> SchemaCheck:
        return cls(data["valid"], tuple(data["errors"]), document=data)


def _path(schema_id: str) -> str:
    return f"/v1/admin/schemas/{quote(schema_id, safe='')}"


def register_schema(
    token: str, schema_id: str, definition: dict[str, Any], *, force: bool = False
) -> Call[str]:
    """Register a JSON Schema (Draft 2020-12); ``force`` replaces one registered."""
    body = {"id": schema_id, "definition": definition, "force": force}
    return mutation("POST", "/v1/admin/schemas", token, body, lambda d: str(d["schema_id"]))


def schemas(token: str, pattern: str | None = None) -> Call[tuple[str, ...]]:
    """The account's schema ids: all, or those of an id, a domain or a domain.entity."""
    return read(
        "/v1/admin/schemas",
        token,
        lambda d: tuple(s["raw"] for s in d["schemas"]),
        pattern=pattern,
    )


def schema(token: str, schema_id: str) -> Call[SchemaEntry]:
    return read(_path(schema_id), token, SchemaEntry.of)


def delete_schema(token: str, schema_id: str) -> Call[str]:
    return mutation("DELETE", _path(schema_id), token, None, lambda d: str(d["schema_id"]))


def validate_payload(token: str, schema_id: str, payload: Any) -> Call[SchemaCheck]:
    """Check ``payload`` against a registered schema; nothing is recorded."""
    return mutation(
        "POST", f"{_path(schema_id)}/validate", token, {"payload": payload}, SchemaCheck.of
    )
