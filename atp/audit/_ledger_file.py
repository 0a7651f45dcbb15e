"""``atp ledger export|import``: a whole ledger in one file, and back into an empty store.

The file holds every stored event as the store holds it (so the records, and with them
every leaf, root and proof, come out the same) and every signed checkpoint (which are
not derived). Import reads the file through once to check it, then writes it; if
writing fails, what was written is removed, so the target store is as it was: empty.
The views and the audit log are not in the file: the carrier rebuilds them from the
events at its next start.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from atp.audit._files import FileError, JsonlReader, JsonlWriter, LedgerEvent
from atp.audit._note import NoteError, checkpoint_of
from atp.audit._store import AuditStore, StoredCheckpoint

__all__ = ["FORMAT", "LedgerNotEmpty", "check_ledger_file", "export_ledger", "import_ledger"]

FORMAT = "atp-ledger"
_PAGE = 1000

_Progress = Callable[[int], None]


class LedgerNotEmpty(ValueError):
    """Import goes into an empty store only."""


def export_ledger(
    app: Any, audit: AuditStore, out: IO[bytes], progress: _Progress
) -> dict[str, int]:
    """Write every stored event and checkpoint of the store to ``out``; the counts."""
    header = {"format": FORMAT, "v": 1, "exported_at": datetime.now(UTC).isoformat()}
    writer = JsonlWriter(out, header)
    start, done = 1, 0
    while True:
        rows = app.recorder.select_notifications(start=start, limit=_PAGE)
        for row in rows:
            event = LedgerEvent(
                row.id, str(row.originator_id), row.originator_version, row.topic, row.state
            )
            writer.item("e", event.line())
        done += len(rows)
        progress(done)
        if len(rows) < _PAGE:
            break
        start = rows[-1].id + 1
    for checkpoint in audit.checkpoints():
        writer.item("c", {"c": [checkpoint.size, checkpoint.note, checkpoint.signed_at]})
    writer.end()
    return writer.counts


def _checkpoint(fields: Any) -> StoredCheckpoint:
    try:
        size, note, signed_at = fields
        assert isinstance(size, int) and isinstance(note, str) and isinstance(signed_at, str)
        assert checkpoint_of(note).size == size
    except (AssertionError, ValueError, TypeError, NoteError):
        raise FileError("a checkpoint line is not [size, signed note, signed at]") from None
    return StoredCheckpoint(size, note, signed_at)


def _items(path: Path) -> tuple[JsonlReader, IO[bytes]]:
    source = path.open("rb")
    try:
        return JsonlReader(source, FORMAT), source
    except BaseException:
        source.close()
        raise


def check_ledger_file(path: Path, progress: _Progress) -> dict[str, int]:
    """Read the whole file once; its counts if it is whole and well-formed.

    Raises:
        FileError: where and why it is not.
    """
    reader, source = _items(path)
    with source:
        last_id, events = 0, 0
        for item in reader:
            try:
                if "e" in item:
                    event = LedgerEvent.of(item["e"])
                    if event.id <= last_id:
                        raise FileError("events are not in notification order")
                    UUID(event.originator_id)
                    last_id, events = event.id, events + 1
                    if events % _PAGE == 0:
                        progress(events)
                elif "c" in item:
                    _checkpoint(item["c"])
                else:
                    raise FileError("an unknown line")
            except (FileError, ValueError) as exc:
                raise FileError(f"line {reader.line_number}: {exc}") from None
        progress(events)
        return reader.counts


def import_ledger(app: Any, audit: AuditStore, path: Path, progress: _Progress) -> dict[str, int]:
    """Check ``path``, then write its events and checkpoints into this empty store.

    Raises:
        FileError: the file is bad or cut short (nothing was written).
        LedgerNotEmpty: the store holds events or checkpoints already.
    """
    if app.recorder.max_notification_id() or audit.checkpoints():
        raise LedgerNotEmpty("the target store is not empty: import goes into a new store")
    counts = check_ledger_file(path, lambda done: None)
    reader, source = _items(path)
    try:
        with source:
            chunk: list[StoredEvent] = []
            written = 0
            for item in reader:
                if "e" in item:
                    event = LedgerEvent.of(item["e"])
                    chunk.append(
                        StoredEvent(
                            UUID(event.originator_id), event.version, event.topic, event.state
                        )
                    )
                    if len(chunk) == _PAGE:
                        app.recorder.insert_events(chunk)
                        written += len(chunk)
                        chunk = []
                        progress(written)
                else:
                    checkpoint = _checkpoint(item["c"])
                    audit.save_checkpoint(checkpoint.size, checkpoint.note, checkpoint.signed_at)
            if chunk:
                app.recorder.insert_events(chunk)
                written += len(chunk)
            progress(written)
    except BaseException:
        _wipe(app, audit)
        raise
    return counts


def _wipe(app: Any, audit: AuditStore) -> None:
    """Remove what an import wrote (the store was empty before it)."""
    recorder = app.recorder
    with recorder.datastore.transaction(commit=True) as cursor:
        cursor.execute(f"DELETE FROM {recorder.events_table_name}")
    audit.store.write([("DELETE FROM atp_audit_checkpoints", ())])
