"""The PostgreSQL ledger's recorder: eventsourcing's, with a binary insert and reads of
many aggregates at once.

The stock recorder's stored function takes the events as an array of a composite
type, which psycopg can only write as text: every event's state is escaped by regular
expressions in Python, in the worker thread, holding the interpreter lock the server's
main thread needs. One INSERT of four binary arrays (``unnest``) takes a small part of
that Python (docs/performance.md, "What paid"). The statement does what the stored function does
(insert, notify the table's channel for eventsourcing's subscribers) in one round trip
and one autocommit transaction, on the same table.

The stock recorder reads one aggregate per round trip. An actor looks up the
idempotency records of a whole batch of commands together, so here they are read by
one statement (``originator_id = ANY(...)``) on one connection.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any
from uuid import UUID

import psycopg
from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore, PostgresFactory
from psycopg.sql import SQL, Identifier, Literal
from psycopg_pool import PoolTimeout

from atp.ledger._stores import CONNECT_TIMEOUT_KEY, LIVENESS

__all__ = ["LedgerPostgresFactory", "LedgerPostgresRecorder"]

# A dropped connection is retried 0.2 s apart, as the stock recorder does, but for 2 s
# at most (it tried 10 times, and each try could wait the pool's whole timeout): an
# outage then fails the commit within seconds, and the request is answered 503.
_RETRY_FOR = 2.0
_RETRY_WAIT = 0.2
# How long the pool keeps reconnecting a lost connection before it gives the slot up
# (psycopg_pool's default is 5 min, waiting 1, 2, 4 ... 64 s between attempts): with a
# few seconds, a pool that lost its connections reconnects on demand, at once, when the
# store is back, instead of at the next step of a long backoff.
_RECONNECT_FOR = 3.0


class LedgerPostgresRecorder(PostgresApplicationRecorder):
    """Inserts a commit's events with one binary statement; reads the events of many
    aggregates with one."""

    def __init__(self, datastore: PostgresDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        # Composed once, as the stock recorder composes its own statements.
        table = SQL("{schema}.{table}").format(
            schema=Identifier(self.datastore.schema), table=Identifier(self.events_table_name)
        )
        # The notify sits in a CTE of its own so that it runs once, not once a row; its
        # channel is the one eventsourcing's subscriptions listen on.
        self.insert_many_statement = SQL(
            "WITH inserted AS ("
            "INSERT INTO {table} (originator_id, originator_version, topic, state)"
            " SELECT * FROM unnest(%b::{id_type}[], %b::bigint[], %b::text[], %b::bytea[])"
            " RETURNING notification_id"
            "), notified AS (SELECT pg_notify({channel}, ''))"
            " SELECT notification_id FROM inserted CROSS JOIN notified"
            " ORDER BY notification_id"
        ).format(
            table=table,
            id_type=SQL(self.datastore.originator_id_type),
            channel=Literal(self.channel_name),
        )
        self.select_stored_statement = SQL(
            "SELECT t.notification_id, t.originator_id, t.originator_version, t.state"
            " FROM {table} t JOIN unnest(%b::{id_type}[], %b::bigint[]) AS e(id, version)"
            " ON t.originator_id = e.id AND t.originator_version = e.version"
        ).format(table=table, id_type=SQL(self.datastore.originator_id_type))
        self.select_events_of_statement = SQL(
            "SELECT * FROM {table} WHERE originator_id = ANY(%s)"
            " ORDER BY originator_id, originator_version"
        ).format(table=table)

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        """Insert one commit's events; their notification ids, in order.

        A dropped connection is retried on a fresh one, as the stock recorder does, for
        2 s at most, and only while the server answers a connection of its own (so an
        outage fails the commit at once instead of waiting on the pool). If
        the statement had committed and only its answer was lost, the retry finds the
        events stored as written and answers their ids; without that check the retry
        reported a conflict, and the commit's commands failed although they were kept.
        """
        if not stored_events:
            return []
        give_up_at: float | None = None
        while True:
            try:
                if give_up_at is not None and (ids := self._stored_ids(stored_events)) is not None:
                    return ids
                return self._insert(stored_events)
            except (InterfaceError, OperationalError) as exc:
                now = time.monotonic()
                give_up_at = now + _RETRY_FOR if give_up_at is None else give_up_at
                if (
                    now >= give_up_at
                    or isinstance(exc.__cause__, PoolTimeout)  # no connection in a timeout
                    or not _server_answers(self.datastore)
                ):
                    raise
                time.sleep(_RETRY_WAIT)

    def _insert(self, stored_events: Sequence[StoredEvent]) -> list[int]:
        params = (
            [event.originator_id for event in stored_events],
            [event.originator_version for event in stored_events],
            [event.topic for event in stored_events],
            [event.state for event in stored_events],
        )
        with self.datastore.get_connection() as conn, conn.cursor(binary=True) as curs:
            curs.execute(self.insert_many_statement, params, prepare=True)
            # One statement draws the ids from the sequence in the rows' order, so the
            # ids in ascending order pair with ``stored_events`` (Ledger.save relies on it).
            return [row["notification_id"] for row in curs.fetchall()]

    def _stored_ids(self, stored_events: Sequence[StoredEvent]) -> list[int] | None:
        """The notification ids of these events if every one is stored as given (the
        insert is one statement: all of them or none), else None."""
        params = (
            [event.originator_id for event in stored_events],
            [event.originator_version for event in stored_events],
        )
        with self.datastore.get_connection() as conn, conn.cursor(binary=True) as curs:
            curs.execute(self.select_stored_statement, params)
            rows = curs.fetchall()
        found = {(r["originator_id"], r["originator_version"]): bytes(r["state"]) for r in rows}
        given = {(e.originator_id, e.originator_version): e.state for e in stored_events}
        if found != given:
            return None
        return sorted(row["notification_id"] for row in rows)

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
    """eventsourcing's PostgreSQL infrastructure with :class:`LedgerPostgresRecorder`,
    and a pool that gives up on an absent server within seconds."""

    application_recorder_class = LedgerPostgresRecorder

    def __init__(self, env: Any) -> None:
        super().__init__(env)
        pool = self.datastore.pool
        # eventsourcing sets no connect timeout: libpq then waits on the operating system
        # (minutes, for a host that drops packets).
        timeout = self.env.get(CONNECT_TIMEOUT_KEY)
        if timeout and isinstance(pool.kwargs, dict):
            pool.kwargs["connect_timeout"] = int(timeout)
            pool.kwargs.update(LIVENESS)
        pool.reconnect_timeout = _RECONNECT_FOR

    def check_pool(self) -> None:
        """Check the server with a connection of its own, then replace the pool's broken
        idle connections (after an outage, every one).

        The direct connection answers at once when the server is down (refused), where
        asking the pool would wait its whole timeout for a connection it cannot make.
        """
        _connect_alone(self.datastore).close()
        self.datastore.pool.check()


def _connect_alone(datastore: PostgresDatastore) -> psycopg.Connection[Any]:
    """A connection of its own (not the pool's), with the pool's settings."""
    kwargs = datastore.pool.kwargs if isinstance(datastore.pool.kwargs, dict) else {}
    return psycopg.connect(**{k: v for k, v in kwargs.items() if k != "row_factory"})


def _server_answers(datastore: PostgresDatastore) -> bool:
    """Whether the server takes a new connection (at once if it is down: refused)."""
    try:
        _connect_alone(datastore).close()
    except psycopg.Error:
        return False
    return True
