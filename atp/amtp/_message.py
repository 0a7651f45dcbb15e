"""The AMTP v1.0 message (§4): what the gateway takes, and how it rides in the ledger.

An AMTP message to a local agent is stored as an ordinary A2A message (its delivery,
lease, ACK and history are the carrier's own), so the native API, histories and
proofs show it. The A2A message holds the AMTP payload as its one ``data`` part and
every other AMTP field under ``metadata.amtp``; ``unwrap`` gives the AMTP message back.

Pure: parsing and shaping only, no I/O.
"""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import attrs

from atp.amtp._errors import (
    InvalidMessageFormat,
    InvalidRecipient,
    UnsupportedVersion,
)

__all__ = [
    "A2A_PAYLOAD",
    "AMTP_VERSION",
    "MAX_RECIPIENTS",
    "Address",
    "AmtpMessage",
    "canonical_address",
    "carries_a2a",
    "new_message_id",
    "parse_address",
    "parse_message",
    "unwrap",
    "utc_timestamp",
    "wrap",
    "wrap_document",
]

AMTP_VERSION = "1.0"
A2A_PAYLOAD = "application/a2a+json"
"""The ``content-type`` header of an AMTP message whose payload is an A2A message."""
MAX_RECIPIENTS = 100
"""Recipients one message may name (the spec sets none; one request must stay bounded)."""

# local-part@domain: the local part as agents name themselves (letters, digits and
# ._+-), the domain as DNS names hosts (labels of letters, digits and hyphens).
_LOCAL = re.compile(r"[A-Za-z0-9._+-]{1,64}")
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_SCHEMA = re.compile(r"agntcy:[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.v[0-9]+")
_HASH = re.compile(r"(sha256|sha512):[0-9a-fA-F]+")
_MAX_TEXT = 998  # a subject, as long as an email header line may be
_MAX_KEY = 255
# The fields a message may carry beyond payload (§4.1), in the order they are kept.
_OPTIONAL_TEXT = ("subject", "in_reply_to", "response_type")


@attrs.frozen
class Address:
    """``local@domain``, the domain in lower case."""

    local: str
    domain: str

    def __str__(self) -> str:
        return f"{self.local}@{self.domain}"

    @property
    def canonical(self) -> str:
        """The address as the gateway compares it (``canonical_address``)."""
        return canonical_address(str(self))


# atp.domain.AGENT_ID_PREFIX: an unnamed agent's address is its id (no name starts so).
_AGENT_ID_PREFIX = "agt_"


def canonical_address(address: str) -> str:
    """``address`` as the gateway compares it: a name in lower case (AMTP names are not
    case-sensitive), an agent id as it is (ids are), the domain in lower case."""
    local, _, domain = address.rpartition("@")
    if not local.startswith(_AGENT_ID_PREFIX):
        local = local.lower()
    return f"{local}@{domain.lower()}"


def parse_address(value: object) -> Address | None:
    """``value`` as an AMTP address, or None if it is not one."""
    if not isinstance(value, str) or value.count("@") != 1:
        return None
    local, domain = value.strip().split("@")
    domain = domain.lower()
    labels = domain.split(".")
    if not _LOCAL.fullmatch(local) or len(domain) > 253:
        return None
    if not all(_LABEL.fullmatch(label) for label in labels):
        return None
    return Address(local, domain)


@attrs.frozen
class AmtpMessage:
    """A message the gateway accepted: its id, parties and the document it keeps."""

    message_id: str
    sender: Address
    recipients: tuple[Address, ...]
    idempotency_key: str | None
    document: dict[str, Any]  # every field as kept, payload included


def new_message_id(now: datetime) -> str:
    """A UUIDv7 (RFC 9562 §5.7): 48 bits of Unix milliseconds, then random bits.

    Python 3.11's ``uuid`` has no ``uuid7``; the layout is a few shifts.
    """
    millis = int(now.timestamp() * 1000) & ((1 << 48) - 1)
    value = (millis << 80) | secrets.randbits(80)
    value = (value & ~(0xF << 76)) | (0x7 << 76)  # version 7
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # the RFC 9562 variant
    return str(uuid.UUID(int=value))


def parse_message(body: object, now: datetime) -> AmtpMessage:
    """Check an AMTP message (§4.2) and give it the fields a gateway adds.

    Required: ``sender``, ``recipients``. Added when absent: ``version``,
    ``message_id`` (a UUIDv7), ``timestamp``. ``payload`` may be any JSON value.

    Raises:
        InvalidMessageFormat, UnsupportedVersion, InvalidRecipient.
    """
    if not isinstance(body, Mapping):
        raise InvalidMessageFormat("the message must be a JSON object")
    version = body.get("version", AMTP_VERSION)
    if version != AMTP_VERSION:
        raise UnsupportedVersion(supported_versions=[AMTP_VERSION])
    sender = parse_address(body.get("sender"))
    if sender is None:
        raise InvalidMessageFormat("sender must be an address local@domain", field="sender")
    recipients = _recipients(body.get("recipients"))
    message_id = _message_id(body.get("message_id"), now)
    document: dict[str, Any] = {
        "version": AMTP_VERSION,
        "message_id": message_id,
        "timestamp": _timestamp(body.get("timestamp"), now),
        "sender": str(sender),
        "recipients": [str(r) for r in recipients],
    }
    key = body.get("idempotency_key")
    if key is not None:
        if not isinstance(key, str) or not key.strip() or len(key) > _MAX_KEY:
            raise InvalidMessageFormat(
                f"idempotency_key must be a string of 1 to {_MAX_KEY} characters",
                field="idempotency_key",
            )
        document["idempotency_key"] = key = key.strip()
    for name in _OPTIONAL_TEXT:
        if (value := body.get(name)) is not None and value != "":
            if not isinstance(value, str) or len(value) > _MAX_TEXT:
                raise InvalidMessageFormat(
                    f"{name} must be a string of at most {_MAX_TEXT} characters", field=name
                )
            document[name] = value
    if (schema := body.get("schema")) is not None and schema != "":
        if not isinstance(schema, str) or not _SCHEMA.fullmatch(schema):
            raise InvalidMessageFormat(
                "schema must be agntcy:<domain>.<entity>.v<N>", field="schema"
            )
        document["schema"] = schema
    if (headers := body.get("headers")) is not None:
        if not isinstance(headers, Mapping):
            raise InvalidMessageFormat("headers must be an object", field="headers")
        document["headers"] = dict(headers)
    if (attachments := body.get("attachments")) is not None:
        document["attachments"] = _attachments(attachments)
    if (signature := body.get("signature")) is not None:
        if not isinstance(signature, Mapping):
            raise InvalidMessageFormat("signature must be an object", field="signature")
        document["signature"] = dict(signature)
    if (coordination := body.get("coordination")) is not None:
        if not isinstance(coordination, Mapping):
            raise InvalidMessageFormat("coordination must be an object", field="coordination")
        document["coordination"] = dict(coordination)  # checked by the gateway that runs it
    document["payload"] = body.get("payload")
    return AmtpMessage(message_id, sender, recipients, key, document)


def wrap(message: AmtpMessage) -> dict[str, Any]:
    """The A2A message that carries ``message`` to one local recipient."""
    return wrap_document(message.document)


def wrap_document(document: dict[str, Any]) -> dict[str, Any]:
    """The A2A message that carries an AMTP message (as kept) to one local recipient: its
    payload as the one ``data`` part; or, when the payload is itself an A2A message (the
    ``content-type`` header says ``A2A_PAYLOAD``), that message."""
    fields = {k: v for k, v in document.items() if k != "payload"}
    payload = document["payload"]
    if carries_a2a(document) and isinstance(payload, Mapping):
        metadata = payload.get("metadata")
        kept = dict(metadata) if isinstance(metadata, Mapping) else {}
        return {**payload, "metadata": {**kept, "amtp": fields}}
    return {
        "messageId": document["message_id"],
        "role": "ROLE_USER",
        "parts": [{"data": payload, "mediaType": "application/json"}],
        "metadata": {"amtp": fields},
    }


def carries_a2a(document: Mapping[str, Any]) -> bool:
    """Whether an AMTP message's payload is an A2A message (a native send's)."""
    headers = document.get("headers")
    return isinstance(headers, Mapping) and headers.get("content-type") == A2A_PAYLOAD


def unwrap(payload: object) -> dict[str, Any] | None:
    """The AMTP message an A2A message carries (``wrap``), or None if it carries none."""
    if not isinstance(payload, Mapping):
        return None
    metadata = payload.get("metadata")
    fields = metadata.get("amtp") if isinstance(metadata, Mapping) else None
    if not isinstance(fields, Mapping):
        return None
    if carries_a2a(fields):  # the A2A message itself, without what the carrier added
        rest = {k: v for k, v in metadata.items() if k != "amtp"}  # type: ignore[union-attr]
        message = {k: v for k, v in payload.items() if k != "metadata"}
        return {**fields, "payload": {**message, "metadata": rest} if rest else message}
    parts = payload.get("parts")
    if not isinstance(parts, list) or len(parts) != 1:
        return None
    part = parts[0]
    return {**fields, "payload": part.get("data") if isinstance(part, Mapping) else None}


def _recipients(value: object) -> tuple[Address, ...]:
    if not isinstance(value, list) or not value:
        raise InvalidMessageFormat("recipients must be a non-empty list", field="recipients")
    if len(value) > MAX_RECIPIENTS:
        raise InvalidMessageFormat(
            f"at most {MAX_RECIPIENTS} recipients per message", field="recipients"
        )
    seen: dict[str, Address] = {}
    for item in value:
        address = parse_address(item)
        if address is None:
            raise InvalidRecipient(f"not an address local@domain: {str(item)[:100]!r}")
        seen.setdefault(address.canonical, address)  # one delivery per recipient
    return tuple(seen.values())


def _message_id(value: object, now: datetime) -> str:
    """The sender's id (any UUID, written canonically: the official SDK sends UUIDv4),
    or a new UUIDv7."""
    if value is None or value == "":
        return new_message_id(now)
    try:
        if not isinstance(value, str) or len(value) != 36:
            raise ValueError
        return str(uuid.UUID(value))
    except ValueError:
        raise InvalidMessageFormat("message_id must be a UUID", field="message_id") from None


def _timestamp(value: object, now: datetime) -> str:
    """The sender's time, or now."""
    if value is None or value == "":
        return _rfc3339(now)
    return utc_timestamp(value, "timestamp")


def utc_timestamp(value: object, field: str) -> str:
    """An ISO 8601 time with its UTC offset, as the carrier writes times (RFC 3339 UTC,
    microseconds).

    Raises:
        InvalidMessageFormat: not such a time.
    """
    try:
        if not isinstance(value, str):
            raise ValueError
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidMessageFormat(f"{field} must be an ISO 8601 time", field=field) from None
    if moment.tzinfo is None:
        raise InvalidMessageFormat(f"{field} must name its UTC offset", field=field)
    return _rfc3339(moment)


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _attachments(value: object) -> list[dict[str, Any]]:
    """References only (§4.1): name, type, size, hash and an http(s) URL each."""
    if not isinstance(value, list):
        raise InvalidMessageFormat("attachments must be a list", field="attachments")
    kept = []
    for item in value:
        ok = (
            isinstance(item, Mapping)
            and isinstance(item.get("filename"), str)
            and isinstance(item.get("content_type"), str)
            and type(item.get("size")) is int
            and item["size"] >= 0
            and isinstance(item.get("hash"), str)
            and _HASH.fullmatch(item["hash"]) is not None
            and isinstance(item.get("url"), str)
            and item["url"].startswith(("https://", "http://"))
        )
        if not ok:
            raise InvalidMessageFormat(
                "each attachment needs filename, content_type, size, hash"
                " (sha256:<hex> or sha512:<hex>) and an http(s) url",
                field="attachments",
            )
        kept.append(dict(item))
    return kept
