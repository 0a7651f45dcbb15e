"""The embedded ledger's recorder: eventsourcing's SQLite recorder, one INSERT per commit.

The stock recorder inserts a commit's events one statement at a time, to read each
row's notification id back. Every statement is a call into the driver, which lets go
of the interpreter lock, and the server's main thread must then win it back. Here a
commit's events go in as one multi-row INSERT (chunked under SQLite's parameter
limit), and their notification ids follow from the last one: SQLite gives a new row
the largest rowid plus one, so the rows of one statement get consecutive ids, in
order, while the write transaction keeps every other writer out. (It picks ids at
random only once the largest is 2**63 - 1, which no ledger reaches.)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor, SQLiteFactory

__all__ = ["LedgerSQLiteFactory", "MultiRowSQLiteRecorder"]

_ROWS_PER_STATEMENT = 999 // 4  # four parameters a row; 999 is SQLite's lowest limit


class MultiRowSQLiteRecorder(SQLiteApplicationRecorder):
    """Inserts each chunk of a commit's events with one statement."""

    def _insert_events(
        self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        ids: list[int] = []
        for start in range(0, len(stored_events), _ROWS_PER_STATEMENT):
            chunk = stored_events[start : start + _ROWS_PER_STATEMENT]
            params: list[Any] = []
            for event in chunk:
                originator_id = event.originator_id
                params += (
                    originator_id.hex if isinstance(originator_id, UUID) else originator_id,
                    event.originator_version,
                    event.topic,
                    event.state,
                )
            values = ", ".join(["(?, ?, ?, ?)"] * len(chunk))
            c.execute(f"INSERT INTO {self.events_table_name} VALUES {values}", params)
            last: int = c.lastrowid
            ids.extend(range(last - len(chunk) + 1, last + 1))
        return ids


class LedgerSQLiteFactory(SQLiteFactory):
    """eventsourcing's SQLite infrastructure with :class:`MultiRowSQLiteRecorder`."""

    application_recorder_class = MultiRowSQLiteRecorder
