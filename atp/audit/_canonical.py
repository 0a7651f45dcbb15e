"""RFC 8785 (JCS) canonical JSON, fast for the shapes the audit log writes most."""

from __future__ import annotations

import hashlib
import json
import re
from json.encoder import encode_basestring
from typing import Any

import rfc8785

__all__ = ["canonical", "payload_sha256", "record_bytes"]

_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
# In compact JSON a number follows ":", "[" or "," (or starts the text). With a "." or
# an exponent it is a float, which JCS writes as ECMAScript does; with 16 digits it may
# be past what a double holds. The same characters inside a string only send a value
# the slow, exact way. (One alternation with a "^" branch cost seven times as much.)
_NOT_PLAIN = re.compile(r"[:\[,]-?[0-9]+(?:[.eE]|[0-9]{15})")


def _plain(text: str) -> bool:
    """Whether ``json.dumps`` wrote exactly the JCS bytes: no float, no integer a double
    cannot hold, no character beyond the BMP (JCS sorts keys by UTF-16 units)."""
    if text[:1] in "-0123456789" or not (text.isascii() or max(text) <= "\uffff"):
        return False
    return _NOT_PLAIN.search(text) is None


def record_bytes(record: dict[str, Any]) -> bytes:
    """The canonical form of an audit record.

    A record holds only strings, whole numbers, booleans and nulls under ASCII keys
    (``tests/audit`` checks every type against ``rfc8785``), so ``json.dumps`` writes
    its JCS bytes without a check; and its envelope's keys are always the same, so only
    its ``data`` goes through the encoder, and its strings through the encoder's own
    escaping. The keys below are in
    JCS order (UTF-16 code units): actor, aggregate (id, type), at, data, index, type,
    v, version.
    """
    aggregate = record["aggregate"]
    string = encode_basestring  # what the encoder writes for a str, without its dispatch
    text = (
        f'{{"actor":{string(record["actor"])},"aggregate":{{"id":{string(aggregate["id"])},'
        f'"type":{string(aggregate["type"])}}},"at":{string(record["at"])},'
        f'"data":{_ENCODER.encode(record["data"])},"index":{record["index"]:d},'
        f'"type":{string(record["type"])},"v":{record["v"]:d},'
        f'"version":{record["version"]:d}}}'
    )
    try:
        return text.encode()
    except UnicodeEncodeError:  # a lone surrogate from a display name: as ``canonical``
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace").encode()


def canonical(value: Any) -> bytes:
    """RFC 8785 (JCS) canonical JSON of ``value``.

    ``json.dumps`` with sorted keys and no spaces writes exactly the JCS bytes, five
    times faster than the general encoder, unless the value holds a float (JCS writes
    numbers as ECMAScript does), an integer past what a double holds exactly, or a key
    beyond the BMP (JCS sorts keys by UTF-16 units, Python by code points): those go
    through ``rfc8785``. Payloads seldom hold any. A lone surrogate, which UTF-8 cannot
    hold, becomes U+FFFD, and what JCS refuses (NaN, a huge integer) keeps Python's
    form: every value has one canonical form here.
    """
    text = _ENCODER.encode(value)
    if _plain(text):
        try:
            return text.encode()
        except UnicodeEncodeError:
            pass
    else:
        try:
            return rfc8785.dumps(value)
        except (rfc8785.CanonicalizationError, UnicodeEncodeError, ValueError):
            pass
    text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text.encode()


def payload_sha256(payload: Any) -> str | None:
    """Hex SHA-256 of a payload's canonical JSON; None for no payload."""
    if payload is None:
        return None
    return hashlib.sha256(canonical(payload)).hexdigest()
