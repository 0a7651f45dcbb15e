"""The A2A 1.0 Message subset the carrier accepts, and the payload size rule.

The carrier never interprets a payload's intent, but it refuses to store one that a
receiving agent could not read as an A2A Message (contract §3.1) or that exceeds the
64 KiB budget (§3.2). Validation is fail-fast: the first broken rule raises.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from atp.errors import InvalidA2AMessage, PayloadMustBeJson, PayloadTooLarge

__all__ = [
    "A2A_CONTENT_TYPE",
    "A2A_VERSION",
    "MAX_PAYLOAD_BYTES",
    "check_payload",
    "payload_size",
    "validate_a2a_message",
]

MAX_PAYLOAD_BYTES = 64 * 1024
"""Largest accepted payload, measured as compact UTF-8 JSON (contract §3.2)."""

A2A_CONTENT_TYPE = "application/a2a+json"
"""The ``content_type`` the carrier reports for every stored payload."""

A2A_VERSION = "1.0"
"""The A2A protocol version the carrier reports."""

_ROLES = frozenset({"ROLE_USER", "ROLE_AGENT"})
_CONTENT_KEYS = ("text", "raw", "url", "data")
_STRING_CONTENT_KEYS = frozenset({"text", "raw", "url"})  # ``data`` may hold any JSON value
_OPTIONAL_MESSAGE_STRINGS = ("taskId",)  # contextId depends on the role, checked apart
_OPTIONAL_MESSAGE_STRING_LISTS = ("extensions", "referenceTaskIds")
_OPTIONAL_PART_STRINGS = ("filename", "mediaType")

_MISSING = object()  # tells "key absent" apart from "key present with null"
# allow_nan=False: NaN and Infinity are not JSON, and a peer could not decode them.
# (One encoder for all calls: json.dumps with options builds a new one each time.)
_STRICT = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def validate_a2a_message(payload: object) -> None:
    """Check that ``payload`` is an A2A 1.0 Message the carrier may store.

    Unknown keys, at the top level and in parts, are accepted so that newer A2A fields
    pass through verbatim. An optional key that is present must hold a valid value:
    ``null`` is not the same as absent.

    Args:
        payload: A decoded JSON value.

    Raises:
        InvalidA2AMessage: on the first rule of contract §3.1 that ``payload`` breaks.
    """
    if not isinstance(payload, Mapping):
        raise InvalidA2AMessage("payload is not a JSON object")
    _require_non_blank(payload, "messageId")
    role = payload.get("role", _MISSING)
    if not isinstance(role, str) or role not in _ROLES:
        raise InvalidA2AMessage("role must be ROLE_USER or ROLE_AGENT")
    if role == "ROLE_AGENT":
        # An agent always answers inside a conversation, so it must name it.
        _require_non_blank(payload, "contextId")
    else:
        _optional_non_blank(payload, "contextId")
    _check_parts(payload.get("parts", _MISSING))
    _optional_object(payload, "metadata")
    for key in _OPTIONAL_MESSAGE_STRINGS:
        _optional_non_blank(payload, key)
    for key in _OPTIONAL_MESSAGE_STRING_LISTS:
        _optional_non_blank_list(payload, key)


def payload_size(payload: object) -> int:
    """Byte length of ``payload`` as compact UTF-8 JSON, the form the size limit counts.

    Args:
        payload: A decoded JSON value.

    Raises:
        PayloadMustBeJson: if ``payload`` cannot be encoded as strict JSON.
    """
    return len(_encode(payload))


def check_payload(payload: object) -> None:
    """Apply the contract's payload rules in its order: JSON, then size, then A2A shape.

    Size comes first so an oversized body is refused as too large whatever its shape,
    as the reference carrier does.

    Args:
        payload: A decoded JSON value.

    Raises:
        PayloadMustBeJson: if ``payload`` cannot be encoded as strict JSON.
        PayloadTooLarge: if its compact encoding exceeds ``MAX_PAYLOAD_BYTES``.
        InvalidA2AMessage: if it is not a valid A2A Message.
    """
    size = payload_size(payload)
    if size > MAX_PAYLOAD_BYTES:
        raise PayloadTooLarge(f"payload is {size} bytes")
    validate_a2a_message(payload)


def _encode(payload: object) -> bytes:
    # ValueError also covers circular references and lone surrogates (UnicodeEncodeError).
    try:
        return _STRICT.encode(payload).encode()
    except (TypeError, ValueError, RecursionError) as exc:
        raise PayloadMustBeJson(str(exc)) from exc


def _is_non_blank(value: object) -> bool:
    return isinstance(value, str) and value.strip() != ""


def _require_non_blank(obj: Mapping[object, object], key: str) -> None:
    if not _is_non_blank(obj.get(key, _MISSING)):
        raise InvalidA2AMessage(f"{key} must be a non-blank string")


def _optional_non_blank(obj: Mapping[object, object], key: str) -> None:
    if key in obj and not _is_non_blank(obj[key]):
        raise InvalidA2AMessage(f"{key} must be a non-blank string when present")


def _optional_object(obj: Mapping[object, object], key: str) -> None:
    if key in obj and not isinstance(obj[key], Mapping):
        raise InvalidA2AMessage(f"{key} must be an object when present")


def _optional_non_blank_list(obj: Mapping[object, object], key: str) -> None:
    if key not in obj:
        return
    values = obj[key]
    if not isinstance(values, list) or not all(_is_non_blank(value) for value in values):
        raise InvalidA2AMessage(f"{key} must be a list of non-blank strings when present")


def _check_parts(parts: object) -> None:
    if not isinstance(parts, list) or not parts:
        raise InvalidA2AMessage("parts must be a non-empty list")
    for part in parts:
        _check_part(part)


def _check_part(part: object) -> None:
    if not isinstance(part, Mapping):
        raise InvalidA2AMessage("each part must be an object")
    present = [key for key in _CONTENT_KEYS if key in part]
    if len(present) != 1:
        raise InvalidA2AMessage("a part needs exactly one of text, raw, url, data")
    (content_key,) = present
    if content_key in _STRING_CONTENT_KEYS and not isinstance(part[content_key], str):
        raise InvalidA2AMessage(f"part {content_key} must be a string")
    _optional_object(part, "metadata")
    for key in _OPTIONAL_PART_STRINGS:
        _optional_non_blank(part, key)
