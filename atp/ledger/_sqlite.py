"""The embedded ledger's recorder: eventsourcing's SQLite recorder, one statement per
commit and one per batch of lookups.

The stock recorder inserts a commit's events one statement at a time, to read each
row's notification id back, and reads one aggregate per transaction. Every statement
is a call into the driver, which lets go of the interpreter lock, and the server's
main thread must then win it back. Here a commit's events go in as one multi-row
INSERT (chunked under SQLite's parameter limit), and their notification ids follow
from the last one: SQLite gives a new row the largest rowid plus one, so the rows of
one statement get consecutive ids, in order, while the write transaction keeps every
other writer out. (It picks ids at random only once the largest is 2**63 - 1, which
no ledger reaches.) A commit that fits one statement runs it alone, without BEGIN and
COMMIT: in autocommit mode a statement is a transaction of its own, just as atomic and
as durable, and it needs no statement journal (which SQLite keeps in an explicit
transaction to undo a failed statement alone, and which spills to a temporary file for
a commit's worth of rows). That saves about a quarter of the commit's CPU and two of
its three calls into the driver. Many aggregates' events are read by one SELECT.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from eventsourcing.sqlite import (
    SQLiteApplicationRecorder,
    SQLiteCursor,
    SQLiteFactory,
    SQLiteTransaction,
)

__all__ = ["LedgerSQLiteFactory", "MultiRowSQLiteRecorder"]

_MAX_PARAMS = 999  # SQLite's lowest limit on a statement's parameters
_ROWS_PER_STATEMENT = _MAX_PARAMS // 4  # four parameters a row


class _OwnTransaction(SQLiteTransaction):
    """eventsourcing's transaction without its BEGIN, for one statement in autocommit
    mode. Errors are translated as eventsourcing translates them; its commit and
    rollback find no transaction open and do nothing."""

    def __enter__(self) -> SQLiteCursor:
        return self.connection.cursor()


class MultiRowSQLiteRecorder(SQLiteApplicationRecorder):
    """Inserts each chunk of a commit's events with one statement; reads the events of
    many aggregates with one."""

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        if len(stored_events) > _ROWS_PER_STATEMENT:
            return super().insert_events(stored_events, **kwargs)
        with (
            self.datastore.get_connection(commit=True) as conn,
            _OwnTransaction(conn, commit=True) as cursor,
            cursor,
        ):
            return self._insert_events(cursor, stored_events, **kwargs)

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

    def select_events_of(self, originator_ids: Sequence[UUID]) -> list[StoredEvent]:
        """Every stored event of these aggregates, each aggregate's in version order."""
        events: list[StoredEvent] = []
        with self.datastore.transaction(commit=False) as c:
            for start in range(0, len(originator_ids), _MAX_PARAMS):
                chunk = [i.hex for i in originator_ids[start : start + _MAX_PARAMS]]
                marks = ", ".join("?" * len(chunk))
                c.execute(
                    f"SELECT * FROM {self.events_table_name} WHERE originator_id IN ({marks})"
                    " ORDER BY originator_id, originator_version",
                    chunk,
                )
                events += [
                    StoredEvent(
                        originator_id=self.convert_originator_id(row["originator_id"]),
                        originator_version=row["originator_version"],
                        topic=row["topic"],
                        state=row["state"],
                    )
                    for row in c.fetchall()
                ]
        return events


class LedgerSQLiteFactory(SQLiteFactory):
    """eventsourcing's SQLite infrastructure with :class:`MultiRowSQLiteRecorder`."""

    application_recorder_class = MultiRowSQLiteRecorder
