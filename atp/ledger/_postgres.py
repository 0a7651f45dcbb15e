"""The PostgreSQL ledger's recorder: eventsourcing's, reading many aggregates at once.

The stock recorder reads one aggregate per round trip. An actor looks up the
idempotency records of a whole batch of commands together, so here they are read by
one statement (``originator_id = ANY(...)``) on one connection.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore, PostgresFactory
from psycopg.sql import SQL, Identifier

__all__ = ["LedgerPostgresFactory", "ManyReadPostgresRecorder"]


class ManyReadPostgresRecorder(PostgresApplicationRecorder):
    """Reads the events of many aggregates with one statement."""

    def __init__(self, datastore: PostgresDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        # Composed once, as the stock recorder composes its own statements.
        self.select_events_of_statement = SQL(
            "SELECT * FROM {schema}.{table} WHERE originator_id = ANY(%s)"
            " ORDER BY originator_id, originator_version"
        ).format(schema=Identifier(self.datastore.schema), table=Identifier(self.events_table_name))

    def select_events_of(self, originator_ids: Sequence[UUID]) -> list[StoredEvent]:
        """Every stored event of these aggregates, each aggregate's in version order."""
        statement = self.select_events_of_statement
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(statement, [list(originator_ids)], prepare=True)
            return [
                StoredEvent(
                    originator_id=row["originator_id"],
                    originator_version=row["originator_version"],
                    topic=row["topic"],
                    state=bytes(row["state"]),
                )
                for row in curs.fetchall()
            ]


class LedgerPostgresFactory(PostgresFactory):
    """eventsourcing's PostgreSQL infrastructure with :class:`ManyReadPostgresRecorder`."""

    application_recorder_class = ManyReadPostgresRecorder
