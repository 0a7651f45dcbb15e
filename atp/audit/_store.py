"""The audit log's tables (migrations/*/0007_audit_log.sql), read and written in SQL.

Synchronous, like every store call: run it in a worker thread. Hashes are raw bytes
(BLOB, BYTEA); records are the canonical JSON text, exactly as hashed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import attrs

from atp.audit._merkle import CompactRange, Node, nodes_for_root
from atp.audit._records import Entry, Record
from atp.projections import ViewStore, Writer

__all__ = [
    "TABLES",
    "TRACKING_KEY",
    "AuditStore",
    "EventFilter",
    "Head",
    "StoredCheckpoint",
    "StoredRecord",
    "Viewer",
]

TRACKING_KEY = "audit"
TABLES = ("atp_audit_records", "atp_audit_nodes", "atp_audit_directory")
_RECORD_COLUMNS = (
    "idx, position, type, at, message_id, session_id, agent_a, agent_b, account_a, account_b,"
    " record, leaf_hash"
)
# Rows per multi-row INSERT: one statement a page instead of one a row (the Python
# loop around each execute cost more than SQLite's insert), under SQLite's 32,766
# bound variables (12 a record).
_ROWS_PER_INSERT = 500
_UPSERT_ENTRY = (
    "INSERT INTO atp_audit_directory (aggregate, entry) VALUES (?, ?)"
    " ON CONFLICT (aggregate) DO UPDATE SET entry = excluded.entry"
)
_INSERT_CHECKPOINT = (
    "INSERT INTO atp_audit_checkpoints (size, note, signed_at) VALUES (?, ?, ?)"
    " ON CONFLICT (size) DO NOTHING"
)
_IN_CHUNK = 200  # ids per IN (...) list


@attrs.frozen
class Head:
    """The stored tree: its size, its right edge, and the newest checkpoint's size."""

    size: int
    tree: CompactRange
    checkpointed: int


@attrs.frozen
class StoredRecord:
    index: int
    position: int
    record: str
    leaf_hash: bytes


@attrs.frozen
class Viewer:
    """Who reads: an agent sees its own business, an account (or its auditor) all of its
    agents' business."""

    account_id: str
    agent_id: str | None = None


@attrs.frozen
class EventFilter:
    type: str | None = None
    message: str | None = None
    session: str | None = None
    agent: str | None = None


@attrs.frozen
class StoredCheckpoint:
    size: int
    note: str
    signed_at: str


def _bytes(value: Any) -> bytes:
    return bytes(value)  # psycopg may hand back a memoryview


class AuditStore:
    """The audit tables of one view store."""

    def __init__(self, store: ViewStore) -> None:
        self.store = store

    # -- writing (statements for the follower's page) ----------------------------------

    @staticmethod
    def record_row(position: int, record: Record) -> tuple[Any, ...]:
        """The row of ``record`` (of the event at notification ``position``)."""
        entry = record.entry
        agents = (*entry.agents, None, None)[:2]
        accounts = (*entry.accounts, None, None)[:2]
        return (
            record.index,
            position,
            record.type,
            record.body["at"],
            record.message_id,
            record.session_id,
            *agents,
            *accounts,
            record.canonical.decode(),
            record.leaf_hash,
        )

    @staticmethod
    def add_rows(
        out: Writer, records: list[tuple[Any, ...]], nodes: list[tuple[int, int, bytes]]
    ) -> None:
        """Insert a page's record rows and tree nodes, a few statements in all."""
        for start in range(0, len(records), _ROWS_PER_INSERT):
            rows = records[start : start + _ROWS_PER_INSERT]
            marks = ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"] * len(rows))
            sql = f"INSERT INTO atp_audit_records ({_RECORD_COLUMNS}) VALUES {marks}"
            out.execute(sql, [value for row in rows for value in row])
        for start in range(0, len(nodes), _ROWS_PER_INSERT):
            chunk = nodes[start : start + _ROWS_PER_INSERT]
            marks = ", ".join(["(?, ?, ?)"] * len(chunk))
            sql = f"INSERT INTO atp_audit_nodes (level, idx, hash) VALUES {marks}"
            out.execute(sql, [value for node in chunk for value in node])

    @staticmethod
    def put_entries(out: Writer, entries: dict[UUID, Entry]) -> None:
        for aggregate_id, entry in entries.items():
            out.execute(_UPSERT_ENTRY, (str(aggregate_id), entry.to_json()))

    @staticmethod
    def add_checkpoint(out: Writer, size: int, note: str) -> None:
        out.execute(_INSERT_CHECKPOINT, (size, note, datetime.now(UTC).isoformat()))

    def save_checkpoint(self, size: int, note: str, signed_at: str | None = None) -> None:
        """Store a checkpoint signed now, or (a ledger import) when it was signed."""
        signed_at = signed_at or datetime.now(UTC).isoformat()
        self.store.write([(_INSERT_CHECKPOINT, (size, note, signed_at))])

    # -- reading -----------------------------------------------------------------------

    def size(self) -> int:
        rows = self.store.query("SELECT max(idx) FROM atp_audit_records")
        return 0 if rows[0][0] is None else int(rows[0][0]) + 1

    def position(self) -> int:
        """The ledger notification the log has reached (its follower's tracking)."""
        rows = self.store.query("SELECT position FROM atp_tracking WHERE view = ?", (TRACKING_KEY,))
        return int(rows[0][0]) if rows else 0

    def head(self) -> Head:
        """The stored tree's size and right edge, and the newest checkpoint's size."""
        size = self.size()
        edge_nodes = nodes_for_root(size)
        found = self.nodes(edge_nodes)
        tree = CompactRange(size, [found[node] for node in edge_nodes])
        rows = self.store.query("SELECT max(size) FROM atp_audit_checkpoints")
        return Head(size, tree, int(rows[0][0] or 0))

    def nodes(self, wanted: Iterable[Node]) -> dict[Node, bytes]:
        """The hashes of these complete subtrees (level 0: leaves). Missing ones are left
        out. One statement per table for up to a few hundred nodes."""
        nodes = set(wanted)
        leaves = sorted(index for level, index in nodes if level == 0)
        inner = sorted(node for node in nodes if node[0] > 0)
        found: dict[Node, bytes] = {}
        for start in range(0, len(leaves), _IN_CHUNK):
            indexes = leaves[start : start + _IN_CHUNK]
            marks = ", ".join("?" * len(indexes))
            for index, digest in self.store.query(
                f"SELECT idx, leaf_hash FROM atp_audit_records WHERE idx IN ({marks})", indexes
            ):
                found[0, int(index)] = _bytes(digest)
        for start in range(0, len(inner), _IN_CHUNK):
            chunk = inner[start : start + _IN_CHUNK]
            where = " OR ".join("(level = ? AND idx = ?)" for _ in chunk)
            params = [value for node in chunk for value in node]
            for level, index, digest in self.store.query(
                f"SELECT level, idx, hash FROM atp_audit_nodes WHERE {where}", params
            ):
                found[int(level), int(index)] = _bytes(digest)
        return found

    def entries(self, aggregate_ids: Sequence[UUID]) -> dict[UUID, Entry]:
        found: dict[UUID, Entry] = {}
        keys = [str(i) for i in aggregate_ids]
        for start in range(0, len(keys), _IN_CHUNK):
            chunk = keys[start : start + _IN_CHUNK]
            marks = ", ".join("?" * len(chunk))
            for aggregate, text in self.store.query(
                f"SELECT aggregate, entry FROM atp_audit_directory WHERE aggregate IN ({marks})",
                chunk,
            ):
                found[UUID(aggregate)] = Entry.from_json(text)
        return found

    def records(self, start: int, limit: int) -> list[StoredRecord]:
        """Up to ``limit`` stored records from index ``start``, in order."""
        rows = self.store.query(
            "SELECT idx, position, record, leaf_hash FROM atp_audit_records"
            " WHERE idx >= ? ORDER BY idx LIMIT ?",
            (start, limit),
        )
        return [StoredRecord(int(i), int(p), r, _bytes(h)) for i, p, r, h in rows]

    def events(
        self, viewer: Viewer, after: int, limit: int, filters: EventFilter
    ) -> list[StoredRecord]:
        """Up to ``limit`` records after index ``after`` that ``viewer`` may see and
        ``filters`` select, in index order."""
        where = ["idx > ?"]
        params: list[Any] = [after]
        party = "agent" if viewer.agent_id is not None else "account"
        where.append(f"({party}_a = ? OR {party}_b = ?)")
        params += [viewer.agent_id or viewer.account_id] * 2
        if filters.type is not None:
            where.append("type = ?")
            params.append(filters.type)
        if filters.message is not None:
            where.append("message_id = ?")
            params.append(filters.message)
        if filters.session is not None:
            where.append("session_id = ?")
            params.append(filters.session)
        if filters.agent is not None:
            where.append("(agent_a = ? OR agent_b = ?)")
            params += [filters.agent, filters.agent]
        rows = self.store.query(
            "SELECT idx, position, record, leaf_hash FROM atp_audit_records"
            f" WHERE {' AND '.join(where)} ORDER BY idx LIMIT ?",
            (*params, limit),
        )
        return [StoredRecord(int(i), int(p), r, _bytes(h)) for i, p, r, h in rows]

    def position_at(self, index: int | None = None, at: str | None = None) -> int | None:
        """The ledger notification of record ``index``, or of the last record at or
        before the time ``at`` (the records' own format); None if there is none."""
        if index is not None:
            rows = self.store.query(
                "SELECT position FROM atp_audit_records WHERE idx = ?", (index,)
            )
        else:
            rows = self.store.query(
                "SELECT max(position) FROM atp_audit_records WHERE at <= ?", (at,)
            )
        return None if not rows or rows[0][0] is None else int(rows[0][0])

    def version_at(self, column: str, wire_id: str, types: str, position: int) -> int | None:
        """The version an aggregate had at notification ``position`` (None: not yet
        created): found by the newest of its records up to there. ``column`` is the
        records' column that names it, ``types`` a LIKE pattern of its record types
        (the column also names the aggregate in other aggregates' records)."""
        assert column in ("message_id", "session_id", "agent_a")
        rows = self.store.query(
            f"SELECT record FROM atp_audit_records WHERE {column} = ? AND type LIKE ?"
            " AND position <= ? ORDER BY idx DESC LIMIT 1",
            (wire_id, types, position),
        )
        return int(json.loads(rows[0][0])["version"]) if rows else None

    def message_versions_at(self, message_ids: Sequence[str], position: int) -> dict[str, int]:
        """:meth:`version_at` of many messages, in one statement (a session's turns)."""
        marks = ", ".join("?" * len(message_ids))
        rows = self.store.query(
            "SELECT r.message_id, r.record FROM atp_audit_records r JOIN"
            " (SELECT max(idx) AS top FROM atp_audit_records"
            f" WHERE message_id IN ({marks}) AND position <= ? GROUP BY message_id) t"
            " ON r.idx = t.top",
            (*message_ids, position),
        )
        return {m: int(json.loads(record)["version"]) for m, record in rows}

    def turns_at(self, session_id: str, position: int) -> list[str]:
        """The message ids of a session's turns appended up to ``position``, in order."""
        rows = self.store.query(
            "SELECT record FROM atp_audit_records WHERE session_id = ?"
            " AND type = 'session.turn_appended' AND position <= ? ORDER BY idx",
            (session_id, position),
        )
        return [json.loads(r[0])["data"]["message_id"] for r in rows]

    def checkpoint(self, size: int | None = None) -> StoredCheckpoint | None:
        """The newest checkpoint, or the one of tree ``size``."""
        if size is None:
            rows = self.store.query(
                "SELECT size, note, signed_at FROM atp_audit_checkpoints ORDER BY size DESC LIMIT 1"
            )
        else:
            rows = self.store.query(
                "SELECT size, note, signed_at FROM atp_audit_checkpoints WHERE size = ?",
                (size,),
            )
        return StoredCheckpoint(int(rows[0][0]), rows[0][1], rows[0][2]) if rows else None

    def checkpoints(self) -> list[StoredCheckpoint]:
        """Every stored checkpoint, smallest tree first."""
        rows = self.store.query(
            "SELECT size, note, signed_at FROM atp_audit_checkpoints ORDER BY size"
        )
        return [StoredCheckpoint(int(s), n, a) for s, n, a in rows]
