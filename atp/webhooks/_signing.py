"""Webhook signatures: the reference ``atp-signature`` scheme and Standard Webhooks.

Two schemes, because two kinds of receiver exist. Receivers written against the
reference carrier check ``atp-signature: t=<ts>,v1=<hex>`` (contract §5.3), whose HMAC
key is the whole ``whsec_…`` string as UTF-8, prefix included. Receivers using a
Standard Webhooks library check ``webhook-signature`` (protocols-and-peers §5), whose
HMAC key is the *base64-decoded* part after ``whsec_``, and which also defines ``v1a``
Ed25519 signatures so that a receiver holds only a public key. The same ``whsec_``
string therefore keys two different HMACs; the functions below never mix them up.

Everything here is pure: no I/O, no clock except ``time.time()`` when ``now`` is not
given. No secret ever reaches a ``repr``, an exception message or a log line: errors
say what was wrong, never with which key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Mapping, Sequence

import nacl.exceptions
import nacl.signing

__all__ = [
    "SignatureError",
    "check_hmac_secret",
    "new_hmac_secret",
    "new_signing_key",
    "public_key_of",
    "reference_signature",
    "standard_headers",
    "verify_reference_signature",
    "verify_standard",
]

_SECRET_PREFIX = "whsec_"
_SIGNING_KEY_PREFIX = "whsk_"
_PUBLIC_KEY_PREFIX = "whpk_"

# Standard Webhooks asks for 24-64 random bytes; we issue 32.
_MIN_SECRET_BYTES = 24
_MAX_SECRET_BYTES = 64
_NEW_SECRET_BYTES = 32

_ED25519_SEED_BYTES = 32
_ED25519_SIGNATURE_BYTES = 64

_DEFAULT_TOLERANCE = 300

# Unix seconds as decimal ASCII digits; the cap keeps int() away from huge inputs.
_TIMESTAMP = re.compile(r"[0-9]{1,18}")
# A message id goes into a header and into the signed content, where "." separates
# the fields; visible ASCII without "." keeps both unambiguous.
_MESSAGE_ID = re.compile(r"[\x21-\x2d\x2f-\x7e]+")

_OUT_OF_TOLERANCE = "timestamp_out_of_tolerance"
_INVALID = "invalid_signature"


class SignatureError(Exception):
    """A webhook signature did not verify.

    The message is only ever ``"timestamp_out_of_tolerance"`` or
    ``"invalid_signature"`` (the reference carrier's reasons, contract §5.3), so it is
    safe to log and never carries key material.
    """


# --- reference scheme (contract §5.3) -------------------------------------------------


def reference_signature(secret: str, timestamp: int, body: bytes) -> str:
    """The ``atp-signature`` header value for ``body`` sent at ``timestamp``.

    The HMAC key is the secret string's UTF-8 bytes *including* the ``whsec_`` prefix:
    that is what the reference carrier does, so its receivers expect it.
    """
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def verify_reference_signature(
    header: str,
    timestamp: str,
    body: bytes,
    secret: str,
    *,
    tolerance: int = _DEFAULT_TOLERANCE,
    now: int | None = None,
) -> None:
    """Check an ``atp-signature`` header against the ``atp-timestamp`` header and body.

    Mirrors the reference helper: a timestamp that is not an integer, or is more than
    ``tolerance`` seconds from ``now`` either way, is out of tolerance; anything else
    that does not match is an invalid signature.

    Raises:
        SignatureError: ``timestamp_out_of_tolerance`` or ``invalid_signature``.
    """
    ts = _check_timestamp(timestamp, tolerance, now)
    expected = reference_signature(secret, ts, body).encode()
    if not hmac.compare_digest(header.encode("utf-8", "replace"), expected):
        raise SignatureError(_INVALID)


# --- Standard Webhooks keys (protocols-and-peers §5.1) --------------------------------


def check_hmac_secret(whsec: str) -> None:
    """Check a ``whsec_`` secret that a caller chose.

    Raises:
        ValueError: not ``whsec_`` and standard base64 of 24-64 bytes.
    """
    _hmac_key(whsec)


def new_hmac_secret() -> str:
    """A fresh ``whsec_`` secret: 32 random bytes as 43 letters and digits.

    The contract gives every secret as unpadded base64url (43 characters), while
    Standard Webhooks libraries decode the part after ``whsec_`` as standard base64, in
    which ``-`` and ``_`` are not digits (the official library drops them, silently
    keying another HMAC). The two alphabets agree on letters and digits, so we draw
    until the encoding has neither (one draw in four): the same text is then both
    formats and decodes to the same key either way. It costs under 2 of 256 bits.
    """
    while True:
        text = base64.urlsafe_b64encode(secrets.token_bytes(_NEW_SECRET_BYTES)).decode()
        text = text.rstrip("=")
        if text.isalnum():
            return _SECRET_PREFIX + text


def new_signing_key() -> tuple[str, str]:
    """A fresh Ed25519 pair: (``whsk_`` + base64 32-byte seed, ``whpk_`` + base64 key).

    Only the ``whpk_`` half is ever shown to a receiver.
    """
    seed = secrets.token_bytes(_ED25519_SEED_BYTES)
    signing_key = nacl.signing.SigningKey(seed)
    return _SIGNING_KEY_PREFIX + _b64encode(seed), _public_key_text(signing_key)


def public_key_of(whsk: str) -> str:
    """The ``whpk_`` public key that verifies signatures made with ``whsk``.

    Raises:
        ValueError: ``whsk`` is not a ``whsk_`` Ed25519 key.
    """
    return _public_key_text(_signing_key(whsk))


# --- Standard Webhooks signing and verifying ------------------------------------------


def standard_headers(
    msg_id: str,
    timestamp: int,
    body: bytes,
    *,
    whsec: str | None,
    whsk: str | Sequence[str] | None,
) -> dict[str, str]:
    """The ``webhook-id``, ``webhook-timestamp`` and ``webhook-signature`` headers.

    ``webhook-signature`` lists ``v1,<HMAC>`` when ``whsec`` is given and one
    ``v1a,<Ed25519>`` per ``whsk`` key given (two during a key rotation's overlap, so
    receivers holding either public key verify), space-separated, over
    ``"{msg_id}.{timestamp}." + body``. ``msg_id`` must stay the same on every retry of
    one delivery: receivers deduplicate on it.

    Raises:
        ValueError: no key given, a malformed key, a negative timestamp, or a message id
            that is empty or holds "." or anything but visible ASCII.
    """
    whsks = [whsk] if isinstance(whsk, str) else list(whsk or ())
    if whsec is None and not whsks:
        raise ValueError("standard_headers needs whsec, whsk or both")
    if not _MESSAGE_ID.fullmatch(msg_id):
        raise ValueError("webhook message id must be visible ASCII without '.'")
    if timestamp < 0:
        raise ValueError("webhook timestamp must not be negative")
    content = _signed_content(msg_id, str(timestamp), body)
    signatures: list[str] = []
    if whsec is not None:
        signatures.append("v1," + _b64encode(_hmac_v1(_hmac_key(whsec), content)))
    for key in whsks:
        signature = _signing_key(key).sign(content).signature
        signatures.append("v1a," + _b64encode(signature))
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(signatures),
    }


def verify_standard(
    headers: Mapping[str, str],
    body: bytes,
    *,
    whsec: str | None = None,
    whpk: str | None = None,
    tolerance: int = _DEFAULT_TOLERANCE,
    now: int | None = None,
) -> None:
    """Check Standard Webhooks headers (any letter case) against the raw body.

    Passes when the timestamp is within ``tolerance`` seconds of ``now`` either way and
    at least one listed signature verifies: a ``v1`` with ``whsec`` or a ``v1a`` with
    ``whpk``. Other versions and malformed entries are skipped, so a header carrying
    signatures from both an old and a new key verifies during a rotation.

    Raises:
        SignatureError: ``timestamp_out_of_tolerance`` or ``invalid_signature``.
        ValueError: neither key given, or a given key is malformed.
    """
    if whsec is None and whpk is None:
        raise ValueError("verify_standard needs whsec, whpk or both")
    hmac_key = None if whsec is None else _hmac_key(whsec)
    verify_key = None if whpk is None else _verify_key(whpk)

    lowered = {name.lower(): value for name, value in headers.items()}
    msg_id = lowered.get("webhook-id", "")
    timestamp = lowered.get("webhook-timestamp", "")
    listed = lowered.get("webhook-signature", "")
    if not _MESSAGE_ID.fullmatch(msg_id) or not listed:
        raise SignatureError(_INVALID)
    _check_timestamp(timestamp, tolerance, now)

    content = _signed_content(msg_id, timestamp, body)
    expected_v1 = None if hmac_key is None else _hmac_v1(hmac_key, content)
    for entry in listed.split():
        version, _, encoded = entry.partition(",")
        signature = _b64decode(encoded)
        if signature is None:
            continue
        if _matches(version, signature, content, expected_v1, verify_key):
            return
    raise SignatureError(_INVALID)


# --- helpers --------------------------------------------------------------------------


def _check_timestamp(timestamp: str, tolerance: int, now: int | None) -> int:
    """The timestamp as an int, if it is decimal digits within tolerance of ``now``."""
    if not _TIMESTAMP.fullmatch(timestamp):
        raise SignatureError(_OUT_OF_TOLERANCE)
    ts = int(timestamp)
    current = int(time.time()) if now is None else now
    if abs(current - ts) > tolerance:
        raise SignatureError(_OUT_OF_TOLERANCE)
    return ts


def _signed_content(msg_id: str, timestamp: str, body: bytes) -> bytes:
    return f"{msg_id}.{timestamp}.".encode() + body


def _hmac_v1(key: bytes, content: bytes) -> bytes:
    return hmac.digest(key, content, "sha256")


def _matches(
    version: str,
    signature: bytes,
    content: bytes,
    expected_v1: bytes | None,
    verify_key: nacl.signing.VerifyKey | None,
) -> bool:
    """Whether one listed signature verifies; versions without a key never match."""
    if version == "v1":
        return expected_v1 is not None and hmac.compare_digest(signature, expected_v1)
    if version == "v1a":
        return verify_key is not None and _ed25519_verifies(verify_key, content, signature)
    return False


def _ed25519_verifies(key: nacl.signing.VerifyKey, content: bytes, signature: bytes) -> bool:
    if len(signature) != _ED25519_SIGNATURE_BYTES:
        return False
    try:
        key.verify(content, signature)
    except nacl.exceptions.BadSignatureError:
        return False
    return True


def _hmac_key(whsec: str) -> bytes:
    """The raw HMAC key of a ``whsec_`` secret (24-64 bytes, padding optional)."""
    key = _decode_key(whsec, _SECRET_PREFIX, "whsec_ secret")
    if not _MIN_SECRET_BYTES <= len(key) <= _MAX_SECRET_BYTES:
        raise ValueError("whsec_ secret must decode to 24-64 bytes")
    return key


def _signing_key(whsk: str) -> nacl.signing.SigningKey:
    """The Ed25519 key of a ``whsk_`` string.

    We write the 32-byte seed; a 64-byte seed-plus-public-key (libsodium's and Go's
    private key layout) is read too, when its public half matches the seed.
    """
    raw = _decode_key(whsk, _SIGNING_KEY_PREFIX, "whsk_ signing key")
    if len(raw) not in (_ED25519_SEED_BYTES, 2 * _ED25519_SEED_BYTES):
        raise ValueError("whsk_ signing key must decode to 32 or 64 bytes")
    key = nacl.signing.SigningKey(raw[:_ED25519_SEED_BYTES])
    tail = raw[_ED25519_SEED_BYTES:]
    if tail and not hmac.compare_digest(tail, bytes(key.verify_key)):
        raise ValueError("whsk_ signing key has a public half that does not match its seed")
    return key


def _verify_key(whpk: str) -> nacl.signing.VerifyKey:
    raw = _decode_key(whpk, _PUBLIC_KEY_PREFIX, "whpk_ public key")
    if len(raw) != _ED25519_SEED_BYTES:
        raise ValueError("whpk_ public key must decode to 32 bytes")
    return nacl.signing.VerifyKey(raw)


def _public_key_text(key: nacl.signing.SigningKey) -> str:
    return _PUBLIC_KEY_PREFIX + _b64encode(bytes(key.verify_key))


def _decode_key(text: str, prefix: str, what: str) -> bytes:
    """Base64 after ``prefix``; the error names the kind of key, never its value."""
    if not text.startswith(prefix):
        raise ValueError(f"{what} must start with {prefix!r}")
    raw = _b64decode(text[len(prefix) :])
    if raw is None:
        raise ValueError(f"{what} is not valid base64")
    return raw


def _b64decode(text: str) -> bytes | None:
    """Strict standard base64, padding optional (the official library allows unpadded)."""
    stripped = text.rstrip("=")
    if len(text) - len(stripped) > 2:
        return None
    try:
        return base64.b64decode(stripped + "=" * (-len(stripped) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None


def _b64encode(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")
