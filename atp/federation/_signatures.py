"""Gateway-to-gateway requests signed with HTTP Message Signatures (RFC 9421, Ed25519).

A request covers its method, authority, path and ``Content-Digest`` (RFC 9530, SHA-256
of the body), and names the sending domain as its ``keyid``. The receiver takes the key
from the sender's domain's ``_amtp`` record: a signature verifies only with the key of
the domain it names, and that domain must be the message sender's, so a gateway speaks
only for its own domain. ``created`` older than ``MAX_AGE`` is refused (a replay of an
old request would be answered from its idempotency record anyway).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

import attrs
import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from http_message_signatures import (
    HTTPMessageSigner,
    HTTPMessageVerifier,
    HTTPSignatureKeyResolver,
    algorithms,
)
from http_message_signatures.exceptions import HTTPMessageSignaturesException

__all__ = ["MAX_AGE", "GatewayKey", "verify_request"]

MAX_AGE = timedelta(minutes=5)
_COVERED = ("@method", "@authority", "@path", "content-digest")
_SEED_LABEL = b"atp/amtp-gateway-signing-key/v1"


class GatewayKey:
    """This gateway's Ed25519 signing key."""

    def __init__(self, seed: bytes) -> None:
        self._private = Ed25519PrivateKey.from_private_bytes(seed)
        self.public_key = self._private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    @classmethod
    def from_settings(cls, configured: str | None, secret_key: str) -> GatewayKey:
        """``ATP_GATEWAY_SIGNING_KEY`` (base64 of 32 bytes), else one derived from the
        carrier's secret key: every host of one carrier signs with the same key, and an
        upgrade needs no new setting."""
        if configured:
            seed = base64.b64decode(configured, validate=True)
            if len(seed) != 32:
                raise ValueError("ATP_GATEWAY_SIGNING_KEY must be the base64 of 32 bytes")
            return cls(seed)
        return cls(hmac.new(secret_key.encode(), _SEED_LABEL, hashlib.sha256).digest())

    def signature_headers(self, method: str, url: str, body: bytes, domain: str) -> dict[str, str]:
        """``Content-Digest``, ``Signature-Input`` and ``Signature`` of a request."""
        request = httpx.Request(method, url, content=body)
        signer = HTTPMessageSigner(
            signature_algorithm=algorithms.ED25519, key_resolver=_Keys(domain, self._private)
        )
        signer.sign(request, key_id=domain, covered_component_ids=_COVERED, body=body)
        wanted = ("content-digest", "signature-input", "signature")
        return {name: request.headers[name] for name in wanted}


@attrs.frozen
class _Message:
    """A received request as the verifier reads it."""

    method: str
    url: str
    headers: Any


def verify_request(
    method: str,
    url: str,
    headers: Iterable[tuple[str, str]],
    body: bytes,
    domain: str,
    public_key: bytes,
) -> bool:
    """Whether the request carries a valid signature by ``domain``'s key over
    ``_COVERED``, made within ``MAX_AGE``."""
    fields = list(headers)
    message = _Message(method, url, _Headers(fields))
    try:
        key = Ed25519PublicKey.from_public_bytes(public_key)
        verifier = HTTPMessageVerifier(
            signature_algorithm=algorithms.ED25519, key_resolver=_Keys(domain, key)
        )
        results = verifier.verify(message, max_age=MAX_AGE, require_components=_COVERED, body=body)
    except (HTTPMessageSignaturesException, ValueError):
        return False
    return any(r.parameters.get("keyid") == domain for r in results)


class _Keys(HTTPSignatureKeyResolver):
    """One domain's key, and no other."""

    def __init__(self, domain: str, key: Ed25519PrivateKey | Ed25519PublicKey) -> None:
        self._domain = domain
        self._key = key

    def resolve_private_key(self, key_id: str) -> Ed25519PrivateKey:
        assert key_id == self._domain and isinstance(self._key, Ed25519PrivateKey)
        return self._key

    def resolve_public_key(self, key_id: str) -> Ed25519PublicKey | None:
        if key_id != self._domain or not isinstance(self._key, Ed25519PublicKey):
            return None
        return self._key


class _Headers:
    """Received header fields, read-only, in the order they came."""

    def __init__(self, fields: list[tuple[str, str]]) -> None:
        self._fields = fields

    def items(self) -> list[tuple[str, str]]:
        return self._fields

    def __iter__(self) -> Any:
        return iter(dict.fromkeys(name for name, _ in self._fields))

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and any(n.lower() == name.lower() for n, _ in self._fields)

    def __getitem__(self, name: str) -> str:
        for n, value in self._fields:
            if n.lower() == name.lower():
                return value
        raise KeyError(name)

    def get(self, name: str, default: Any = None) -> Any:
        try:
            return self[name]
        except KeyError:
            return default
