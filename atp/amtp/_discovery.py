"""The ``_amtp.<domain>`` TXT record (AMTP §3.1): what a gateway publishes, and what a
sender reads of another's.

``v=amtp1;gateway=https://amtp.example.com;auth=apikey;max-size=65536``, keys split on
``;`` and values on the first ``=``; ``v`` and ``gateway`` are required, unknown keys
ignored (so other gateways read ours). Beyond the spec, ATP publishes its gateway's
Ed25519 public key as ``pubkey=ed25519:<base64>``: the key that signs its requests to
other gateways (RFC 9421), found with the gateway in one lookup.

Pure: parsing and formatting only.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable

import attrs

__all__ = ["GatewayRecord", "parse_txt", "txt_value"]

_VERSION = "amtp1"
_KEY_SCHEME = "ed25519:"


@attrs.frozen
class GatewayRecord:
    """A domain's gateway, as its TXT record says."""

    gateway: str  # the base URL; messages go to {gateway}/v1/messages
    auth: tuple[str, ...] = ()
    max_size: int | None = None
    public_key: bytes | None = None  # 32 bytes of Ed25519, if the record names one


def txt_value(gateway: str, max_size: int, public_key: bytes) -> str:
    """The TXT value a gateway publishes."""
    key = base64.b64encode(public_key).decode()
    return (
        f"v={_VERSION};gateway={gateway};auth=apikey;max-size={max_size};pubkey={_KEY_SCHEME}{key}"
    )


def parse_txt(strings: Iterable[str]) -> GatewayRecord | None:
    """The first TXT value of ``strings`` that is a valid AMTP record, else None.

    A TXT record's value may come as several character strings; each value given here
    is one record's strings already joined."""
    for text in strings:
        record = _parse_one(text.strip().strip('"'))
        if record is not None:
            return record
    return None


def _parse_one(text: str) -> GatewayRecord | None:
    fields: dict[str, str] = {}
    for part in text.split(";"):
        name, sep, value = part.partition("=")
        if sep:
            fields.setdefault(name.strip().lower(), value.strip())
    gateway = fields.get("gateway", "")
    if fields.get("v") != _VERSION or not gateway.startswith(("https://", "http://")):
        return None
    auth = tuple(a.strip() for a in fields.get("auth", "").split(",") if a.strip())
    max_size = None
    if fields.get("max-size", "").isdigit():
        max_size = int(fields["max-size"])
    return GatewayRecord(gateway.rstrip("/"), auth, max_size, _public_key(fields.get("pubkey")))


def _public_key(value: str | None) -> bytes | None:
    if value is None or not value.lower().startswith(_KEY_SCHEME):
        return None
    try:
        key = base64.b64decode(value[len(_KEY_SCHEME) :], validate=True)
    except (binascii.Error, ValueError):
        return None
    return key if len(key) == 32 else None
