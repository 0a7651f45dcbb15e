"""The carrier's checkpoint signer, from the configured key and origin."""

from __future__ import annotations

import base64
import binascii
import socket

from atp.audit._note import NoteError, NoteSigner

__all__ = ["default_origin", "make_signer"]


def default_origin() -> str:
    """``<host name>/atp``: the origin of a log whose operator named none."""
    return f"{socket.gethostname() or 'localhost'}/atp"


def make_signer(key: str, origin: str) -> NoteSigner:
    """The signer of checkpoints for ``origin`` (also the key's name).

    Raises:
        ValueError: the key is not the base64 of 32 bytes, or the origin is not a
            valid key name (never echoing the key).
    """
    padded = key.strip() + "=" * (-len(key.strip()) % 4)
    try:
        seed = base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
    except binascii.Error:
        seed = b""
    if len(seed) != 32:
        raise ValueError("ATP_AUDIT_SIGNING_KEY is not the base64 of 32 bytes")
    try:
        return NoteSigner(origin, seed)
    except NoteError as exc:
        raise ValueError(f"ATP_AUDIT_ORIGIN {origin!r}: {exc}") from None
