"""Request-body schemas are read from the attrs classes the handlers parse bodies with."""

from __future__ import annotations

from typing import Literal

import attrs
import pytest
from attrs import validators as v

from atp.wire import AccountBody, SenderPolicyBody, WaitBody, body_schema


def test_a_class_s_types_defaults_and_validators_become_its_schema() -> None:
    assert body_schema(AccountBody) == {
        "type": "object",
        "properties": {
            "name": {
                "type": "string",
                "maxLength": 255,
                "allOf": [{"pattern": r"\S"}, {"pattern": "^[^\\u0000]*$"}],
            }
        },
        "required": ["name"],
    }
    assert body_schema(WaitBody)["properties"]["wait_seconds"] == {
        "type": "integer", "minimum": 0, "maximum": 60,
    }  # fmt: skip
    policy = body_schema(SenderPolicyBody)
    assert policy["required"] == ["effect"]
    assert policy["properties"]["effect"] == {"enum": ["allow", "block"]}
    assert policy["properties"]["sender_agent_id"]["type"] == ["string", "null"]


def test_a_validator_with_no_schema_form_is_an_error_not_a_silent_gap() -> None:
    @attrs.frozen
    class Odd:
        kind: Literal["a"]
        size: int = attrs.field(default=0, validator=v.instance_of(int))

    with pytest.raises(TypeError, match="validator"):
        body_schema(Odd)


@attrs.frozen
class _Inner:
    tags: list[str] | None = attrs.field(
        default=None,
        validator=v.optional(
            v.deep_iterable(v.in_(("a", "b")), v.and_(v.min_len(1), v.max_len(2)))
        ),
    )


@attrs.frozen
class _Outer:
    inner: _Inner = attrs.field(factory=_Inner)
    names: list[str] = attrs.field(factory=list, validator=v.max_len(3))


def test_nested_classes_and_lists_are_described_with_their_rules() -> None:
    schema = body_schema(_Outer)
    assert "required" not in schema  # both have defaults
    assert schema["properties"]["inner"] == {
        "type": "object",
        "properties": {
            "tags": {
                "anyOf": [
                    {
                        "type": "array",
                        "items": {"type": "string", "enum": ["a", "b"]},
                        "minItems": 1,
                        "maxItems": 2,
                    },
                    {"type": "null"},
                ]
            }
        },
    }
    assert schema["properties"]["names"] == {
        "type": "array", "items": {"type": "string"}, "maxItems": 3,
    }  # fmt: skip
