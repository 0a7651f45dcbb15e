"""Verifying a ledger against its audit log, offline.

Every record is made again from the ledger's events, in notification order, and
compared with the stored one; the tree is built again from those leaves, and every
stored checkpoint must carry a valid signature of a trusted key and the root of the
rebuilt tree at its size. A checkpoint an auditor saved earlier must be one of those
trees too: that is what catches the newest events cut off together with their records.

The first failure stops the check, naming the first index that differs. Pure but for
the ``events`` and ``stored`` iterators it is given (see :func:`ledger_events`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import attrs
from eventsourcing.utils import get_topic

from atp.audit._failure import Failure
from atp.audit._merkle import CompactRange
from atp.audit._note import (
    Checkpoint,
    NoteError,
    NoteVerifier,
    checkpoint_of,
    open_checkpoint,
)
from atp.audit._records import Directory, make_record
from atp.audit._store import AuditStore, StoredCheckpoint, StoredRecord
from atp.ledger import CarrierLedger, eventsourcing_env
from atp.settings import Settings

__all__ = [
    "Failure",
    "LedgerEvent",
    "LedgerReader",
    "Report",
    "ledger_events",
    "stored_records",
    "verify",
]

# One event of the ledger as read: its notification id, and its decoded event, or the
# reason it does not decode.
LedgerEvent = tuple[int, Any | None, str | None]


@attrs.frozen
class Report:
    events: int  # events checked
    checkpoints: int  # stored checkpoints checked
    failure: Failure | None
    root: bytes  # the rebuilt tree's root over ``events`` leaves

    @property
    def ok(self) -> bool:
        return self.failure is None


class LedgerReader:
    """The configured ledger, opened for reading in this thread (no trio, no lock)."""

    def __init__(self, settings: Settings) -> None:
        self.app = CarrierLedger(env=eventsourcing_env(settings))

    def count(self) -> int:
        """About how many events the ledger holds (its last notification id)."""
        return self.app.recorder.max_notification_id() or 0

    def close(self) -> None:
        self.app.close()


def ledger_events(app: Any, page: int = 1000) -> Iterator[LedgerEvent]:
    """Every stored event of an eventsourcing application, in notification order."""
    start = 1
    while True:
        rows = app.recorder.select_notifications(start=start, limit=page)
        for row in rows:
            try:
                yield row.id, app.mapper.to_domain_event(row), None
            except Exception as exc:
                yield row.id, None, f"the stored event does not decode ({type(exc).__name__})"
        if len(rows) < page:
            return
        start = rows[-1].id + 1


def stored_records(store: AuditStore, page: int = 1000) -> Iterator[StoredRecord]:
    """The stored audit records, by index."""
    start = 0
    while True:
        rows = store.records(start, page)
        yield from rows
        if len(rows) < page:
            return
        start = rows[-1].index + 1


def verify(
    events: Iterable[LedgerEvent],
    stored: Iterable[StoredRecord] | None,
    checkpoints: list[StoredCheckpoint],
    verifiers: list[NoteVerifier],
    *,
    saved: Sequence[str] = (),
    progress: Callable[[int], None] = lambda done: None,
) -> Report:
    """Check ``events`` against the stored records and checkpoints.

    Args:
        events: the ledger's events, in order (:func:`ledger_events`).
        stored: the stored records, by index; None to check the checkpoints only.
        checkpoints: the stored checkpoints, by size.
        verifiers: the keys a checkpoint may be signed with.
        saved: checkpoint notes saved elsewhere, which today's log must extend.
        progress: called with the number of events checked, now and then.
    """
    directory = Directory()
    tree = CompactRange()
    records = iter(stored) if stored is not None else None
    wanted = sorted(
        [(c.size, f"stored checkpoint of size {c.size}", c.note) for c in checkpoints]
        + [(_size_of(note), "saved checkpoint", note) for note in saved]
    )
    failure: Failure | None = None
    pending = 0

    def check_heads() -> Failure | None:
        nonlocal pending
        while pending < len(wanted) and wanted[pending][0] == tree.size:
            size, what, note = wanted[pending]
            pending += 1
            if (bad := _check_note(note, what, size, tree.root(), verifiers)) is not None:
                return bad
        return None

    failure = check_heads()
    topics: dict[type, str] = {}
    for position, event, undecodable in events:
        if failure is not None:
            break
        index = tree.size
        if event is None:
            failure = Failure(index, f"notification {position}: {undecodable}")
            break
        kind = type(event)
        topic = topics.get(kind) or topics.setdefault(kind, get_topic(kind))
        try:
            record = make_record(index, topic, event, directory)
        except (KeyError, ValueError) as exc:
            failure = Failure(index, f"notification {position} cannot be recorded ({exc})")
            break
        if records is not None:
            kept = next(records, None)
            if kept is None:
                records = None  # the log has not recorded it yet: a live follower's lag
            elif kept.index != index or kept.position != position:
                failure = Failure(index, _moved(kept, position))
                break
            elif kept.record.encode() != record.canonical or kept.leaf_hash != record.leaf_hash:
                failure = Failure(index, "the event differs from what the audit log recorded")
                break
        tree.append(record.leaf_hash)
        failure = check_heads()
        if index % 10_000 == 0:
            progress(tree.size)
    progress(tree.size)
    if failure is None and records is not None and (extra := next(records, None)) is not None:
        failure = Failure(
            tree.size,
            f"the ledger ends at index {tree.size}, but the audit log recorded index"
            f" {extra.index} (notification {extra.position}): events were removed",
        )
    if failure is None and pending < len(wanted):
        size, what, _ = wanted[pending]
        failure = Failure(
            tree.size,
            f"the ledger ends at index {tree.size}, but a {what} covers {size} events:"
            " the newest events were removed",
        )
    return Report(tree.size, len(checkpoints), failure, tree.root())


def _moved(kept: StoredRecord, position: int) -> str:
    if kept.position > position:
        return (
            f"notification {position} is not where the audit log recorded it"
            f" (it recorded notification {kept.position} here): an event was inserted"
            " or moved"
        )
    return (
        f"the audit log recorded notification {kept.position} here, the ledger has"
        f" notification {position}: an event was removed or moved"
    )


def _size_of(note: str) -> int:
    try:
        return checkpoint_of(note).size
    except NoteError:
        return 0  # checked (and refused) with the tree's first head


def _check_note(
    note: str, what: str, size: int, root: bytes, verifiers: list[NoteVerifier]
) -> Failure | None:
    """None if ``note`` is a checkpoint of this tree signed by one of ``verifiers``."""
    try:
        head = open_checkpoint(note, verifiers)
    except NoteError as exc:
        return Failure(size, f"the {what}: {exc}")
    if head != Checkpoint(head.origin, size, root):
        return Failure(
            max(0, size - 1),
            f"the {what} does not match the ledger: its root differs from the tree the"
            f" ledger's first {size} events make (an event at or before index {size - 1}"
            " was changed)",
        )
    return None
