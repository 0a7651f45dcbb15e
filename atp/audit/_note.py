"""Signed checkpoints: the C2SP ``tlog-checkpoint`` body in a C2SP ``signed-note``.

A checkpoint commits to one tree: its origin line, its size and its base64 root hash,
each on its own line. The note adds one signature line per signer::

    example.com/atp
    1024
    <base64 root hash>

    — example.com/atp <base64(4-byte key id ‖ 64-byte Ed25519 signature)>

The key id is the first four bytes of SHA-256(key name ‖ 0x0A ‖ 0x01 ‖ public key),
and the verifier key, the one string a third party needs, is
``<name>+<8 hex digits of the key id>+<base64(0x01 ‖ public key)>``. Pure: no I/O.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Sequence

import attrs
from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

__all__ = [
    "Checkpoint",
    "NoteError",
    "NoteSigner",
    "NoteVerifier",
    "checkpoint_of",
    "open_checkpoint",
    "parse_checkpoint",
]

_ED25519 = b"\x01"
_DASH = "\u2014 "  # a signature line starts with an em dash and a space


class NoteError(ValueError):
    """A note or a key that does not parse, or a signature that does not verify."""


def _key_id(name: str, public_key: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + _ED25519 + public_key).digest()[:4]


def _check_name(name: str) -> str:
    if not name or any(c.isspace() or c == "+" for c in name):
        raise NoteError("a key name is non-empty and has no spaces and no '+'")
    return name


@attrs.frozen
class Checkpoint:
    """One tree head: what a checkpoint's body says."""

    origin: str
    size: int
    root: bytes

    def body(self) -> str:
        """The note text that is signed (ends with a newline)."""
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n"


def parse_checkpoint(body: str) -> Checkpoint:
    """The checkpoint a note's text states (extension lines are allowed, and ignored).

    Raises:
        NoteError: not a checkpoint.
    """
    lines = body.split("\n")
    if len(lines) < 4 or lines[-1] != "" or not lines[0]:
        raise NoteError("a checkpoint has an origin, a size and a root hash line")
    size_text, root_text = lines[1], lines[2]
    canonical_number = size_text == "0" or size_text[:1] in "123456789"
    if not (size_text.isascii() and size_text.isdigit() and canonical_number):
        raise NoteError(f"the tree size {size_text!r} is not a decimal number")
    try:
        root = base64.b64decode(root_text, validate=True)
    except binascii.Error:
        raise NoteError("the root hash is not base64") from None
    if len(root) != 32:
        raise NoteError("the root hash is not 32 bytes")
    return Checkpoint(lines[0], int(size_text), root)


def checkpoint_of(note: str) -> Checkpoint:
    """The checkpoint a signed note states, its signatures not checked: for finding a
    stored note's origin or size. To trust it, :func:`open_checkpoint`.

    Raises:
        NoteError: the note's text is not a checkpoint.
    """
    return parse_checkpoint(note.partition("\n\n")[0] + "\n")


class NoteSigner:
    """Signs notes with one Ed25519 key under one name."""

    def __init__(self, name: str, seed: bytes) -> None:
        self.name = _check_name(name)
        self._key = SigningKey(seed)
        self.public_key = bytes(self._key.verify_key)
        self.key_id = _key_id(name, self.public_key)

    def __repr__(self) -> str:  # the seed is a secret: never in a repr
        return f"NoteSigner(name={self.name!r}, key_id={self.key_id.hex()})"

    @property
    def verifier_key(self) -> str:
        """``<name>+<hex key id>+<base64(0x01 ‖ public key)>``."""
        encoded = base64.b64encode(_ED25519 + self.public_key).decode()
        return f"{self.name}+{self.key_id.hex()}+{encoded}"

    def verifier(self) -> NoteVerifier:
        """The verifier of this signer's notes."""
        return NoteVerifier(self.verifier_key)

    def sign(self, text: str) -> str:
        """The signed note: ``text``, a blank line, and this key's signature line."""
        if not text.endswith("\n"):
            raise NoteError("a note's text ends with a newline")
        signature = self._key.sign(text.encode()).signature
        encoded = base64.b64encode(self.key_id + signature).decode()
        return f"{text}\n{_DASH}{self.name} {encoded}\n"


class NoteVerifier:
    """Checks notes against one verifier key (the string :attr:`NoteSigner.verifier_key`)."""

    def __init__(self, verifier_key: str) -> None:
        parts = verifier_key.split("+", 2)  # the base64 key may hold "+" too
        if len(parts) != 3:
            raise NoteError("a verifier key is <name>+<hex key id>+<base64 key>")
        name, hex_id, encoded = parts
        try:
            key_id = bytes.fromhex(hex_id)
            raw = base64.b64decode(encoded, validate=True)
        except (ValueError, binascii.Error):
            raise NoteError("the verifier key's id or key does not decode") from None
        if len(key_id) != 4 or len(raw) != 33 or raw[:1] != _ED25519:
            raise NoteError("not an Ed25519 verifier key")
        if _key_id(_check_name(name), raw[1:]) != key_id:
            raise NoteError("the verifier key's id does not match its key")
        self.name = name
        self.key_id = key_id
        self._key = VerifyKey(raw[1:])

    def open(self, note: str) -> str:
        """The text of ``note`` if this key signed it.

        Raises:
            NoteError: malformed, or no valid signature of this key.
        """
        text, sep, signatures = note.rpartition("\n\n")
        if not sep or not signatures.endswith("\n"):
            raise NoteError("a signed note is its text, a blank line and signature lines")
        text += "\n"
        for line in signatures[:-1].split("\n"):
            if not line.startswith(_DASH):
                raise NoteError("a signature line starts with an em dash")
            name, _, encoded = line[len(_DASH) :].partition(" ")
            if name != self.name:
                continue
            try:
                raw = base64.b64decode(encoded, validate=True)
            except binascii.Error:
                raise NoteError("a signature does not decode") from None
            if raw[:4] != self.key_id or len(raw) != 68:
                continue
            try:
                self._key.verify(text.encode(), raw[4:])
            except BadSignatureError:
                raise NoteError(f"the signature of {name} does not verify") from None
            return text
        raise NoteError(f"the note has no signature of {self.name}")


def open_checkpoint(note: str, verifiers: Sequence[NoteVerifier]) -> Checkpoint:
    """The checkpoint ``note`` states, if one of ``verifiers`` signed it.

    Raises:
        NoteError: no trusted key signed it (each key's reason), or it is no checkpoint.
    """
    errors = []
    for verifier in verifiers:
        try:
            text = verifier.open(note)
        except NoteError as exc:
            errors.append(str(exc))
            continue
        return parse_checkpoint(text)
    raise NoteError(f"not signed by a trusted key: {'; '.join(errors)}")
