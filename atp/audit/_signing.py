"""The carrier's checkpoint signer, from the configured key and origin."""

from __future__ import annotations

import base64
import binascii
import socket
from typing import TYPE_CHECKING

from atp.audit._note import NoteError, NoteSigner, checkpoint_of

if TYPE_CHECKING:  # the server's half: this module runs on the base install too
    from atp.audit._store import AuditStore
    from atp.settings import Settings

__all__ = ["default_origin", "log_signer", "make_signer", "stored_signer"]


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


def log_signer(key: str, origin: str | None, newest_note: str | None) -> NoteSigner:
    """The signer of this log: as the configured ``origin``, else as its newest stored
    checkpoint says (a host name can change; the log's name must not), else as this host.

    Raises:
        ValueError: as :func:`make_signer`.
    """
    if origin is None:
        origin = checkpoint_of(newest_note).origin if newest_note else default_origin()
    return make_signer(key, origin)


def stored_signer(settings: Settings, store: AuditStore) -> NoteSigner:
    """The configured signer of the log in ``store`` (a blocking read: call it from a
    worker thread).

    Raises:
        ValueError: as :func:`make_signer`.
    """
    newest = store.checkpoint()
    note = newest.note if newest is not None else None
    return log_signer(settings.audit_signing_key or "", settings.audit_origin, note)
