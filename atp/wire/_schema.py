"""JSON Schema for the request bodies, read from the attrs classes that parse them.

The OpenAPI document (``atp.api``) describes a body with the class the handler parses
it with, so the two cannot drift: a field's type, whether it is required, and its
validators (length, bounds, patterns, ``TextRule``) become the schema. A validator this
module does not know raises, so a new rule cannot silently fall out of the document.
"""

from __future__ import annotations

import types
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

import attrs

__all__ = ["body_schema"]

_TYPES: dict[Any, dict[str, Any]] = {
    str: {"type": "string"},
    int: {"type": "integer"},
    bool: {"type": "boolean"},
    float: {"type": "number"},
    type(None): {"type": "null"},
    Any: {},
}


def body_schema(cls: type) -> dict[str, Any]:
    """The JSON Schema (2020-12, as OpenAPI 3.1 uses it) of attrs class ``cls``.

    Unknown keys are allowed, as the parser ignores them.

    Raises:
        TypeError: a field type or validator with no JSON Schema form here.
    """
    hints = get_type_hints(cls)
    properties: dict[str, Any] = {}
    required: list[str] = []
    for field in attrs.fields(cls):
        schema = _type_schema(hints[field.name])
        if field.validator is not None:
            _constrain(schema, _validator_schema(field.validator))
        properties[field.name] = schema
        if field.default is attrs.NOTHING:
            required.append(field.name)
    document: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        document["required"] = required
    return document


def _constrain(schema: dict[str, Any], rules: dict[str, Any]) -> None:
    """Add a field's validator keywords to its type's schema. On a list (or an optional
    one) they go to the array: a length counts items, and a member rule joins ``items``."""
    arrays = [s for s in schema.get("anyOf", [schema]) if s.get("type") == "array"]
    if not arrays:
        schema.update(rules)
        return
    for array in arrays:
        for key, value in rules.items():
            if key == "items":
                array["items"] = {**array.get("items", {}), **value}
            else:
                array[_ITEM_COUNTS.get(key, key)] = value


_ITEM_COUNTS = {"minLength": "minItems", "maxLength": "maxItems"}


def _type_schema(hint: Any) -> dict[str, Any]:
    origin = get_origin(hint)
    if origin is Literal:
        return {"enum": list(get_args(hint))}
    if origin is list:
        (item,) = get_args(hint)
        return {"type": "array", "items": _type_schema(item)}
    if attrs.has(hint):  # a nested body (its defaults and validators as at the top)
        return body_schema(hint)
    if origin in (Union, types.UnionType):
        options = [_type_schema(arg) for arg in get_args(hint)]
        if all(set(option) == {"type"} for option in options):
            return {"type": [option["type"] for option in options]}
        return {"anyOf": options}
    if hint in _TYPES:
        return dict(_TYPES[hint])
    raise TypeError(f"no JSON Schema for {hint!r}")


def _validator_schema(validator: Any) -> dict[str, Any]:
    """JSON Schema keywords for one attrs validator (and_/optional are walked)."""
    name = type(validator).__name__
    if name == "_AndValidator":
        merged: dict[str, Any] = {}
        patterns: list[dict[str, Any]] = []
        for inner in validator._validators:
            part = _validator_schema(inner)
            if "pattern" in part:
                patterns.append({"pattern": part.pop("pattern")})
            merged.update(part)
        if len(patterns) == 1:
            merged.update(patterns[0])
        elif patterns:
            merged["allOf"] = patterns
        return merged
    if name == "_OptionalValidator":
        return _validator_schema(validator.validator)
    if name == "_MaxLengthValidator":
        return {"maxLength": validator.max_length}
    if name == "_MinLengthValidator":
        return {"minLength": validator.min_length}
    if name == "_InValidator":
        return {"enum": list(validator.options)}
    if name == "_DeepIterable":  # each member, and the iterable as a whole
        whole = validator.iterable_validator
        rules = {} if whole is None else _validator_schema(whole)
        return {**rules, "items": _validator_schema(validator.member_validator)}
    if name == "_NumberValidator":
        keyword = {
            ">=": "minimum",
            "<=": "maximum",
            ">": "exclusiveMinimum",
            "<": "exclusiveMaximum",
        }
        return {keyword[validator.compare_op]: validator.bound}
    if name == "_MatchesReValidator":
        return {"pattern": f"^(?:{validator.pattern.pattern})$"}
    rule = getattr(validator, "json_schema", None)
    if isinstance(rule, dict):
        return dict(rule)
    if isinstance(validator, list):
        return _validator_schema(attrs.validators.and_(*validator))
    raise TypeError(f"no JSON Schema for the validator {validator!r}")
