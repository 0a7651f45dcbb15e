"""JSON Schema (Draft 2020-12) for AMTP payloads, through the kept ``jsonschema`` library:
a registered definition is checked as a schema, and a payload against it, with formats
checked (``email``, ``date-time``, ``uri``, …) and every error's place as a JSON Pointer.

Pure: no I/O. A definition's ``$ref`` resolves within the definition only: a registry
never fetches a schema from the network.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from atp.amtp._errors import AmtpError

if TYPE_CHECKING:
    from jsonschema import FormatChecker

__all__ = ["MAX_ERRORS", "InvalidSchema", "check_definition", "payload_errors"]

MAX_ERRORS = 20  # errors a refusal lists; more are summed up in its count


@functools.cache
def _formats() -> FormatChecker:
    """The format checkers, made on first use: importing ``jsonschema`` loads every
    format library installed beside it (one builds a grammar for a second and more),
    which no process that never checks a payload should pay at its start."""
    from jsonschema import FormatChecker

    return FormatChecker()


class InvalidSchema(AmtpError):
    status, code, default = 400, "INVALID_SCHEMA", "not a JSON Schema (Draft 2020-12)"


def check_definition(definition: object) -> dict[str, Any]:
    """``definition``, if it is a Draft 2020-12 schema (an object).

    Raises:
        InvalidSchema: with the place and reason of the first problem.
    """
    if not isinstance(definition, dict):
        raise InvalidSchema("definition must be a JSON Schema object")
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    try:
        Draft202012Validator.check_schema(definition)
    except SchemaError as error:
        where = "/" + "/".join(str(p) for p in error.path)
        raise InvalidSchema(
            f"definition is not a valid schema: {error.message}", path=where
        ) from None
    return definition


def payload_errors(definition: dict[str, Any], payload: Any) -> list[dict[str, str]]:
    """Where ``payload`` breaks ``definition``: ``[{"path", "message"}]``, in document
    order, at most ``MAX_ERRORS``; empty when it is valid."""
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(definition, format_checker=_formats())
    errors = sorted(validator.iter_errors(payload), key=lambda e: [str(p) for p in e.path])
    return [
        {"path": _pointer(error.absolute_path), "message": error.message}
        for error in errors[:MAX_ERRORS]
    ]


def _pointer(path: Any) -> str:
    """RFC 6901: ``/items/0/price``; the whole document is ``""``."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)
