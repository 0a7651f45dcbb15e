"""Contract §3.1 (A2A Message subset) and §3.2 (size and JSON rules)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from atp.errors import InvalidA2AMessage, PayloadMustBeJson, PayloadTooLarge
from atp.wire import (
    A2A_CONTENT_TYPE,
    A2A_VERSION,
    MAX_PAYLOAD_BYTES,
    check_payload,
    payload_size,
    validate_a2a_message,
)

MINIMAL: dict[str, Any] = json.loads(
    '{"messageId":"client-msg-1","role":"ROLE_USER","parts":[{"text":"hello"}]}'
)

# Verbatim from the contract: every optional field and every kind of part.
RICH: dict[str, Any] = json.loads(
    '{"messageId":"agent-msg-1","role":"ROLE_AGENT","contextId":"ctx_123","taskId":"task_123",'
    '"extensions":["https://example.test/a2a/ext"],"referenceTaskIds":["task_001"],'
    '"metadata":{"trace_id":"trace_123"},'
    '"parts":[{"text":"done","metadata":{"format":"plain"}},{"data":[1,true,null,{"ok":true}]},'
    '{"url":"https://example.test/artifact.json","mediaType":"application/json"},'
    '{"raw":"aGVsbG8=","filename":"hello.txt","mediaType":"text/plain"}]}'
)


def _message(**fields: object) -> dict[str, object]:
    """A user message with one data part, overridden by ``fields``."""
    base: dict[str, object] = {"messageId": "msg_1", "role": "ROLE_USER", "parts": [{"data": {}}]}
    base.update(fields)
    return base


def _with_part(**part: object) -> dict[str, object]:
    return _message(parts=[part])


VALID: dict[str, object] = {
    "minimal": MINIMAL,
    "rich": RICH,
    "user with contextId": _message(contextId="ctx_1"),
    "empty text": _with_part(text=""),
    "null data": _with_part(data=None),
    "scalar data": _with_part(data=0),
    "empty extension lists": _message(extensions=[], referenceTaskIds=[]),
    "empty metadata": _message(metadata={}),
    "unknown keys kept": {**_message(), "x-future": [1], "parts": [{"text": "a", "kind": "t"}]},
    "several parts": _message(parts=[{"text": "a"}, {"raw": ""}, {"url": "not checked"}]),
}


# Every invalid example asserted by the reference tests, then a few edges they imply.
INVALID: dict[str, object] = {
    "non-object": "not an object",
    "missing messageId": {"role": "ROLE_USER", "parts": [{"text": "missing id"}]},
    "blank messageId": _message(messageId=" "),
    "legacy role user": _message(role="user"),
    "agent without contextId": _message(role="ROLE_AGENT"),
    "missing parts": {"messageId": "msg_1", "role": "ROLE_USER"},
    "empty parts": _message(parts=[]),
    "non-object part": _message(parts=["not a part"]),
    "part with only metadata": _with_part(metadata={}),
    "part with two content keys": _with_part(text="too much", data={}),
    "numeric text": _with_part(text=123),
    "numeric raw": _with_part(raw=123),
    "numeric url": _with_part(url=123),
    "list metadata": _message(metadata=[]),
    "numeric contextId": _message(contextId=123),
    "blank taskId": _message(taskId=" "),
    "extensions not a list": _message(extensions="not a list"),
    "numeric extension": _message(extensions=[123]),
    "blank referenceTaskId": _message(referenceTaskIds=[" "]),
    "part metadata list": _with_part(data={}, metadata=[]),
    "numeric filename": _with_part(data={}, filename=123),
    "blank mediaType": _with_part(data={}, mediaType=" "),
    # Edges of the same rules.
    "null payload": None,
    "list payload": [MINIMAL],
    "numeric messageId": _message(messageId=1),
    "boolean messageId": _message(messageId=True),
    "missing role": {"messageId": "msg_1", "parts": [{"data": {}}]},
    "lower-case role": _message(role="role_agent"),
    "agent with blank contextId": _message(role="ROLE_AGENT", contextId="\t\n"),
    "user with blank contextId": _message(contextId=""),
    "null contextId": _message(contextId=None),
    "parts an object": _message(parts={"text": "a"}),
    "null text": _with_part(text=None),
    "boolean raw": _with_part(raw=False),
    "all four content keys": _with_part(text="", raw="", url="", data=None),
    "null metadata": _message(metadata=None),
    "blank extension": _message(extensions=[""]),
    "referenceTaskIds not a list": _message(referenceTaskIds="task_1"),
    "blank filename": _with_part(text="a", filename="  "),
    "numeric mediaType": _with_part(text="a", mediaType=1),
    "second part broken": _message(parts=[{"text": "ok"}, {}]),
}


def test_constants_match_the_contract() -> None:
    assert (MAX_PAYLOAD_BYTES, A2A_CONTENT_TYPE, A2A_VERSION) == (
        65536,
        "application/a2a+json",
        "1.0",
    )


@pytest.mark.parametrize("payload", VALID.values(), ids=VALID.keys())
def test_valid_messages_pass_unchanged(payload: object) -> None:
    before = copy.deepcopy(payload)
    validate_a2a_message(payload)
    check_payload(payload)
    assert payload == before


@pytest.mark.parametrize("payload", INVALID.values(), ids=INVALID.keys())
def test_invalid_messages_are_refused(payload: object) -> None:
    with pytest.raises(InvalidA2AMessage):
        validate_a2a_message(payload)
    with pytest.raises(InvalidA2AMessage):
        check_payload(payload)


def _padded(total_bytes: int, *, role: str = "ROLE_USER") -> dict[str, object]:
    """A message whose compact JSON is exactly ``total_bytes`` long."""
    message: dict[str, object] = {"messageId": "m", "role": role, "parts": [{"text": ""}]}
    padding = total_bytes - payload_size(message)
    message["parts"] = [{"text": "x" * padding}]
    return message


def test_payload_size_counts_compact_utf8_bytes() -> None:
    assert payload_size({"a": [1, 2]}) == len('{"a":[1,2]}')
    assert payload_size("é") == 4  # '"é"': two quotes plus two UTF-8 bytes, not escaped
    assert payload_size(MINIMAL) == len(json.dumps(MINIMAL, separators=(",", ":")))


def test_exactly_64_kib_is_accepted() -> None:
    payload = _padded(MAX_PAYLOAD_BYTES)
    assert payload_size(payload) == 65536
    check_payload(payload)


def test_one_byte_over_64_kib_is_too_large() -> None:
    payload = _padded(MAX_PAYLOAD_BYTES + 1)
    assert payload_size(payload) == 65537
    validate_a2a_message(payload)  # the shape is fine; only the size is wrong
    with pytest.raises(PayloadTooLarge):
        check_payload(payload)


def test_size_is_checked_before_a2a_shape() -> None:
    # ROLE_AGENT without contextId is invalid A2A, but the size rule answers first.
    payload = _padded(MAX_PAYLOAD_BYTES + 1, role="ROLE_AGENT")
    with pytest.raises(InvalidA2AMessage):
        validate_a2a_message(payload)
    with pytest.raises(PayloadTooLarge):
        check_payload(payload)


def test_multibyte_characters_count_as_bytes_not_characters() -> None:
    message: dict[str, object] = {"messageId": "m", "role": "ROLE_USER", "parts": [{"text": ""}]}
    room = MAX_PAYLOAD_BYTES - payload_size(message)
    message["parts"] = [{"text": "€" * (room // 3 + 1)}]  # fits in characters, not in bytes
    with pytest.raises(PayloadTooLarge):
        check_payload(message)


@pytest.mark.parametrize(
    "value",
    [float("nan"), float("inf"), float("-inf"), {1, 2}, b"bytes", object(), "\ud800"],
    ids=["nan", "infinity", "minus-infinity", "set", "bytes", "object", "lone-surrogate"],
)
def test_values_that_are_not_json_are_refused(value: object) -> None:
    payload = _with_part(data=value)
    with pytest.raises(PayloadMustBeJson):
        payload_size(payload)
    with pytest.raises(PayloadMustBeJson):
        check_payload(payload)


def test_circular_payload_is_not_json() -> None:
    payload = _message()
    payload["metadata"] = payload
    with pytest.raises(PayloadMustBeJson):
        check_payload(payload)
