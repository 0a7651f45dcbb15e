"""Sealing: authenticated encryption of the few secrets the ledger must keep.

Webhook signing secrets and idempotent responses (which may carry a freshly issued
token) are needed again later, so they cannot be hashed like API keys. They are
sealed with a key derived from ``ATP_SECRET_KEY``, so neither the ledger nor a
ledger export shows them in clear.
"""

from __future__ import annotations

import base64

import nacl.encoding
import nacl.exceptions
import nacl.hash
import nacl.secret
import nacl.utils

__all__ = ["Sealer", "UnsealError"]


class UnsealError(Exception):
    """A sealed value did not decrypt: tampered, or sealed under another secret key."""


class Sealer:
    """Seal and unseal small values with a secret key (XSalsa20-Poly1305)."""

    def __init__(self, secret_key: str) -> None:
        key = nacl.hash.blake2b(
            secret_key.encode(),
            digest_size=32,
            person=b"atp-seal-v1",
            encoder=nacl.encoding.RawEncoder,
        )
        self._box = nacl.secret.SecretBox(key)

    def __repr__(self) -> str:
        return "Sealer(<secret>)"

    def seal(self, plaintext: bytes) -> str:
        """Encrypt; the result is ASCII, safe to store in an event."""
        return "s1:" + base64.b64encode(self._box.encrypt(plaintext)).decode()

    def unseal(self, sealed: str) -> bytes:
        """Decrypt a value from :meth:`seal`.

        Raises:
            UnsealError: the value is not ours or was changed.
        """
        if not sealed.startswith("s1:"):
            raise UnsealError("unknown sealing version")
        try:
            return self._box.decrypt(base64.b64decode(sealed[3:]))
        except (nacl.exceptions.CryptoError, ValueError) as exc:
            raise UnsealError("value does not unseal") from exc
