"""C2SP signed-note and tlog-checkpoint, read from the specs' text for the tests."""

from __future__ import annotations

import base64
import hashlib

from nacl.signing import VerifyKey


def open_checkpoint(note: str, verifier_key: str) -> tuple[str, int, bytes]:
    """(origin, size, root) of a checkpoint note that ``verifier_key`` signed; else raise."""
    name, key_id_hex, key_b64 = verifier_key.split("+", 2)
    raw = base64.b64decode(key_b64)
    assert raw[0] == 1 and len(raw) == 33  # 0x01: Ed25519
    key_id = hashlib.sha256(name.encode() + b"\n" + raw).digest()[:4]
    assert key_id.hex() == key_id_hex
    text, blank, signatures = note.partition("\n\n")
    assert blank and note.endswith("\n")
    text += "\n"
    for line in signatures.splitlines():
        assert line.startswith("\u2014 ")
        signer, _, sig_b64 = line[2:].partition(" ")
        sig = base64.b64decode(sig_b64)
        if signer == name and sig[:4] == key_id:
            VerifyKey(raw[1:]).verify(text.encode(), sig[4:])  # raises if forged
            origin, size, root = text.splitlines()[:3]  # extension lines may follow
            return origin, int(size), base64.b64decode(root)
    raise AssertionError("no signature of the verifier key")
