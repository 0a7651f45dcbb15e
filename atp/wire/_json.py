"""Request bodies as strict JSON (RFC 8259), as the reference carrier's parser reads them.

Python's ``json`` is lenient where the reference is not: it accepts ``NaN``,
``Infinity`` and ``1e999``, a byte-order mark, UTF-16 and UTF-32 bodies, and escaped lone
surrogates, none of which is JSON that can be stored and sent on. And it recurses: a
body nested a thousand deep raises ``RecursionError`` here or in any later encoder.
Every such body is refused as malformed (400), before anything reads it.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, NoReturn

__all__ = ["MAX_JSON_DEPTH", "NotJson", "parse_json"]

# Deep enough for any real message; shallow enough that every encoder after the
# parser (request hash, ledger, views, webhooks) stays far from the recursion limit.
MAX_JSON_DEPTH = 512

# An escape of a UTF-16 surrogate: lone ones are not text.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


class NotJson(ValueError):
    """The body is not strict JSON (the message says why, never quoting the body)."""


def _no_constant(name: str) -> NoReturn:
    raise NotJson(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e999
        raise NotJson("a number out of range is not JSON")
    return value


_DECODER = json.JSONDecoder(parse_constant=_no_constant, parse_float=_finite_float)


def parse_json(raw: bytes) -> Any:
    """Decode one JSON text from UTF-8 bytes.

    Raises:
        NotJson: not UTF-8, a byte-order mark, not JSON, ``NaN``/``Infinity``, a lone
            surrogate, or nested deeper than ``MAX_JSON_DEPTH``.
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise NotJson("body is not UTF-8") from None
    try:
        value = _DECODER.decode(text)  # "\ufeff" (a BOM) is not whitespace: refused
    except RecursionError:
        raise NotJson("body nests too deeply") from None
    except NotJson:
        raise
    except ValueError as exc:
        raise NotJson(f"body is not JSON ({type(exc).__name__})") from None
    # Both checks walk the value; cheap scans of the text skip the walk for almost all
    # bodies (nesting deeper than the limit takes two characters a level).
    deep = len(text) > 2 * MAX_JSON_DEPTH and text.count("[") + text.count("{") > MAX_JSON_DEPTH
    if deep or ("\\u" in text and _SURROGATE_ESCAPE.search(text)):
        _check_value(value)
    return value


def _check_value(value: Any) -> None:
    """Walk ``value`` without recursion: depth, and strings that are not text."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > MAX_JSON_DEPTH:
                raise NotJson("body nests too deeply")
            if isinstance(item, dict):
                for key in item:
                    _check_text(key)
                item = item.values()
            stack.extend((child, depth + 1) for child in item)
        elif isinstance(item, str):
            _check_text(item)


def _check_text(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise NotJson("body holds a lone surrogate") from None
