"""``atp audit export`` and ``atp audit verify --file``: records a third party checks offline.

An export holds the newest checkpoint and, for each record it selects (all, or those of
an account, in a time window), the record, its leaf hash and its inclusion proof in
that checkpoint's tree; with ``--payloads``, a sent message's payload beside its
record. Whoever holds the verifier key checks every line against the checkpoint alone.
A whole export (no filter) also holds every other checkpoint, and the check then builds
the tree again and matches each one.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import IO, TYPE_CHECKING, Any

import attrs

from atp.audit._canonical import canonical
from atp.audit._failure import Failure
from atp.audit._files import FileError, JsonlReader, JsonlWriter
from atp.audit._merkle import (
    CompactRange,
    inclusion_proof,
    leaf_hash,
    nodes_for_inclusion,
    root_from_inclusion,
)
from atp.audit._note import NoteError, NoteVerifier, open_checkpoint

if TYPE_CHECKING:  # the server's half: imported where an export is written
    from atp.audit._store import AuditStore, StoredRecord

__all__ = ["FORMAT", "ExportFilter", "FileReport", "export_audit", "verify_export"]

FORMAT = "atp-audit"
_PAGE = 1000
_Progress = Callable[[int], None]


@attrs.frozen
class ExportFilter:
    since: str | None = None  # record times, as the records write them
    until: str | None = None
    account: str | None = None

    @property
    def whole(self) -> bool:
        return self.since is None and self.until is None and self.account is None

    def selects(self, record: dict[str, Any]) -> bool:
        at = record["at"]
        return (self.since is None or at >= self.since) and (self.until is None or at < self.until)


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode()


def export_audit(
    audit: AuditStore,
    verifier_key: str,
    out: IO[bytes],
    selection: ExportFilter,
    payloads: Callable[[str], Any] | None,
    progress: _Progress,
) -> dict[str, int]:
    """Write the export; the counts of what it holds.

    Raises:
        LookupError: the log has no checkpoint over any record yet.
    """
    from atp.audit._store import EventFilter, Viewer

    newest = audit.checkpoint()
    if newest is None or newest.size == 0:
        raise LookupError("the audit log has no checkpoint over any record yet")
    size = newest.size
    header = {
        "format": FORMAT,
        "v": 1,
        "exported_at": datetime.now(UTC).isoformat(),
        "verifier_key": verifier_key,
        "size": size,
        "filter": attrs.asdict(selection),
    }
    writer = JsonlWriter(out, header)
    checkpoints = audit.checkpoints() if selection.whole else [newest]
    for checkpoint in checkpoints:
        if checkpoint.size <= size:
            writer.item("checkpoint", {"checkpoint": [checkpoint.size, checkpoint.note]})
    after, done = -1, 0
    while True:
        if selection.account is None:
            page = [r for r in audit.records(after + 1, _PAGE) if r.index < size]
        else:
            viewer = Viewer(selection.account)
            page = [r for r in audit.events(viewer, after, _PAGE, EventFilter()) if r.index < size]
        if not page:
            break
        proofs = audit.nodes(set().union(*(nodes_for_inclusion(r.index, size) for r in page)))
        for stored in page:
            _write_record(writer, stored, size, proofs, selection, payloads)
        after = page[-1].index
        done += len(page)
        progress(done)
    writer.end()
    return writer.counts


def _write_record(
    writer: Any,
    stored: StoredRecord,
    size: int,
    nodes: dict[tuple[int, int], bytes],
    selection: ExportFilter,
    payloads: Callable[[str], Any] | None,
) -> None:
    import json

    record = json.loads(stored.record)
    if not selection.selects(record):
        return
    line: dict[str, Any] = {
        "index": stored.index,
        "record": record,
        "leaf_hash": _b64(stored.leaf_hash),
        "proof": [_b64(h) for h in inclusion_proof(stored.index, size, nodes)],
    }
    if payloads is not None and record["type"] == "message.sent":
        line["payload"] = payloads(record["aggregate"]["id"])
    writer.item("record", {"record": line})


@attrs.frozen
class FileReport:
    records: int
    checkpoints: int
    failure: Failure | None
    signed_by: str


def verify_export(
    source: IO[bytes], verifiers: list[NoteVerifier], progress: _Progress
) -> FileReport:
    """Check an export offline. ``verifiers`` empty: trust the key the file names.

    Raises:
        FileError: the file is not a whole, well-formed export.
    """
    reader = JsonlReader(source, FORMAT)
    header = reader.header
    size = header.get("size")
    if not isinstance(size, int) or size < 1:
        raise FileError("the header names no tree size")
    whole = header.get("filter") == attrs.asdict(ExportFilter())
    if not verifiers:
        verifiers = [NoteVerifier(str(header.get("verifier_key")))]
    signed_by = verifiers[0].name
    roots: dict[int, bytes] = {}
    checkpoints: list[tuple[int, str]] = []
    tree = CompactRange()
    failure: Failure | None = None
    records = 0
    for item in reader:
        if failure is not None:
            continue  # read on: a cut or changed file is still refused
        if "checkpoint" in item:
            checkpoint_size, note = item["checkpoint"]
            failure = _open(note, checkpoint_size, verifiers, roots)
            checkpoints.append((checkpoint_size, note))
            continue
        line = item["record"]
        records += 1
        failure = _check_record(line, size, roots, tree if whole else None)
        if records % _PAGE == 0:
            progress(records)
    progress(records)
    if failure is None and size not in roots:
        failure = Failure(size, "the export holds no checkpoint of its tree size")
    if failure is None and whole and tree.size != size:
        failure = Failure(tree.size, f"the export ends at {tree.size} of {size} records")
    return FileReport(records, len(checkpoints), failure, signed_by)


def _check_record(
    line: dict[str, Any], size: int, roots: dict[int, bytes], tree: CompactRange | None
) -> Failure | None:
    """One record line: its leaf, its proof to the signed root, its payload; and in a
    whole export, its place in the tree built again."""
    index, record = line["index"], line["record"]
    leaf = leaf_hash(canonical(record))
    proof = [base64.b64decode(h) for h in line["proof"]]
    if _b64(leaf) != line["leaf_hash"] or record.get("index") != index:
        return Failure(index, "the record does not hash to its leaf hash")
    if root_from_inclusion(index, size, leaf, proof) != roots.get(size):
        return Failure(index, f"its inclusion proof does not reach the signed root of {size}")
    if "payload" in line:
        digest = hashlib.sha256(canonical(line["payload"])).hexdigest()
        if digest != record["data"].get("payload_sha256"):
            return Failure(index, "the payload does not match the record's payload_sha256")
    if tree is not None:
        if index != tree.size:
            return Failure(tree.size, "a record of a whole export is missing")
        tree.append(leaf)
        if tree.size in roots and tree.root() != roots[tree.size]:
            return Failure(index, f"the checkpoint of {tree.size} does not match the records")
    return None


def _open(
    note: str, size: int, verifiers: list[NoteVerifier], roots: dict[int, bytes]
) -> Failure | None:
    """Keep the root of a checkpoint line if a trusted key signed it."""
    try:
        head = open_checkpoint(note, verifiers)
    except NoteError as exc:
        return Failure(size, f"the checkpoint of {size}: {exc}")
    if head.size != size:
        return Failure(size, "a checkpoint line's size differs from its note")
    roots[size] = head.root
    return None
