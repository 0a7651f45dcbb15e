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
