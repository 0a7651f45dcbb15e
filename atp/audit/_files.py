"""The JSONL files the audit trail moves in: a whole ledger, or an audit export.

Each file is a header line, item lines, and an end line that counts the items and
holds the SHA-256 of every line before it: a file cut short, or changed anywhere,
is refused before anything is written from it.

- **Ledger** (``atp ledger export|import``): every stored event as the store holds it
  (id, aggregate, version, topic, base64 state) and every signed checkpoint. Imported
  into an empty store, it gives the same records, roots, proofs and answers.
- **Audit export** (``atp audit export``): records with their leaf hashes and their
  inclusion proofs in the newest checkpoint, payloads where asked, and the checkpoints;
  ``atp audit verify --file`` checks it offline.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Iterator
from typing import IO, Any

import attrs

__all__ = ["FileError", "JsonlReader", "JsonlWriter", "LedgerEvent"]


class FileError(ValueError):
    """A file that is not what it says (its line number and why, never its content)."""


@attrs.frozen
class LedgerEvent:
    """One stored event, as the store holds it."""

    id: int
    originator_id: str
    version: int
    topic: str
    state: bytes

    def line(self) -> dict[str, Any]:
        state = base64.b64encode(self.state).decode()
        return {"e": [self.id, self.originator_id, self.version, self.topic, state]}

    @classmethod
    def of(cls, fields: Any) -> LedgerEvent:
        try:
            event_id, originator, version, topic, state = fields
            assert isinstance(event_id, int) and isinstance(version, int)
            assert isinstance(originator, str) and isinstance(topic, str)
            return cls(event_id, originator, version, topic, base64.b64decode(state, validate=True))
        except (AssertionError, ValueError, TypeError, binascii.Error):
            raise FileError("an event line is not [id, aggregate, version, topic, state]") from None


class JsonlWriter:
    """Writes a header, items and the end line, hashing as it goes."""

    def __init__(self, out: IO[bytes], header: dict[str, Any]) -> None:
        self._out = out
        self._hash = hashlib.sha256()
        self.counts: dict[str, int] = {}
        self._write(header)

    def _write(self, value: dict[str, Any]) -> None:
        line = json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"
        self._hash.update(line)
        self._out.write(line)

    def item(self, kind: str, value: dict[str, Any]) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + 1
        self._write(value)

    def end(self) -> None:
        self._out.write(
            json.dumps({"end": {"counts": self.counts, "sha256": self._hash.hexdigest()}}).encode()
            + b"\n"
        )


class JsonlReader:
    """Reads a file written by :class:`JsonlWriter`; refuses it as soon as it is wrong.

    Iterate it for the item lines (as dicts); the end line is checked when they run
    out. ``kind`` names an item by its one key.
    """

    def __init__(self, source: IO[bytes], expected_format: str) -> None:
        self._source = source
        self._hash = hashlib.sha256()
        self.line_number = 0
        first = self._next()
        if first is None or first.get("format") != expected_format:
            raise FileError(f"not an {expected_format} file (its first line says otherwise)")
        self.header = first
        self.counts: dict[str, int] = {}

    def _next(self) -> dict[str, Any] | None:
        raw = self._source.readline()
        if not raw:
            return None
        self.line_number += 1
        if not raw.endswith(b"\n"):
            raise FileError(f"line {self.line_number} is cut short: the file is truncated")
        try:
            value = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise FileError(f"line {self.line_number} is not JSON") from None
        if not isinstance(value, dict) or len(value) < 1:
            raise FileError(f"line {self.line_number} is not a JSON object")
        if "end" not in value:
            self._hash.update(raw)
        return value

    def __iter__(self) -> Iterator[dict[str, Any]]:
        while True:
            value = self._next()
            if value is None:
                raise FileError("the file ends before its end line: it is truncated")
            if "end" in value:
                self._check_end(value["end"])
                return
            kind = next(iter(value))
            self.counts[kind] = self.counts.get(kind, 0) + 1
            yield value

    def _check_end(self, end: Any) -> None:
        if not isinstance(end, dict) or end.get("sha256") != self._hash.hexdigest():
            raise FileError(f"line {self.line_number}: the file's hash does not match its lines")
        if end.get("counts") != self.counts:
            raise FileError(f"line {self.line_number}: the file's counts do not match its lines")
        if self._source.readline():
            raise FileError(f"lines follow the end line (line {self.line_number})")
