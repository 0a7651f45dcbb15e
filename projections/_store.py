"""Where the read models live: a SQLite file beside the ledger, or the same PostgreSQL.

Views are written by one projection loop and read by many requests, always in a
worker thread. SQL is written once with ``?`` placeholders; the PostgreSQL store
translates them. PostgreSQL's text refuses the NUL character, which SQLite keeps and
the ledger may hold (an old ledger, or a bug): so that such an event can never stop
the views, a statement it refuses runs again with NUL replaced by U+FFFD, the
character Unicode has for one that cannot be represented.

Views are derived data, so their commits do not wait for the disk (SQLite
``synchronous=NORMAL``, PostgreSQL ``synchronous_commit = off``): a lost tail is
re-projected from the ledger on start, since tracking commits with the rows.
"""

from __future__ import annotations

import functools
import importlib.resources
import itertools
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, Protocol

import psycopg
from psycopg_pool import ConnectionPool

from atp.ledger import postgres_target
from atp.settings import Settings

__all__ = [
    "Cursor",
    "ViewStore",
    "apply_migrations",
    "migration_files",
    "open_view_store",
    "pending_migrations",
]

_Row = tuple[Any, ...]


class Cursor(Protocol):
    """The part of a DB-API cursor the views use."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any: ...
    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...


class ViewStore:
    """A connection source for the read models. Subclasses pick the database."""

    dialect: str

    @contextmanager
    def transaction(self) -> Iterator[Cursor]:
        """A cursor inside one transaction: committed on exit, rolled back on error."""
        raise NotImplementedError
        yield  # pragma: no cover

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[_Row]:
        """Run one read and return all rows."""
        with self.transaction() as cur:
            cur.execute(sql, params)
            return [tuple(row) for row in cur.fetchall()]

    def write(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> None:
        """Run ``statements`` in one transaction (a projection page and its tracking)."""
        with self.transaction() as cur:
            for sql, params in statements:
                cur.execute(sql, params)

    def probe(self) -> None:
        """Check that the views answer (and are migrated); raise the store's error if not."""
        self.query("SELECT count(*) FROM atp_tracking")

    def close(self) -> None:
        """Release connections."""


class _SqliteCursor:
    def __init__(self, cur: sqlite3.Cursor) -> None:
        self._cur = cur

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self._cur.execute(sql, tuple(params))

    def fetchone(self) -> Any:
        return self._cur.fetchone()

    def fetchall(self) -> list[Any]:
        return self._cur.fetchall()


class _SqliteViewStore(ViewStore):
    """Views in ``<data_dir>/views.db``: one writer connection, one reader per thread."""

    dialect = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()

    def _connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            # Checkpoint a tenth as often: each page of views dirties a B-tree leaf per
            # random key, and every checkpoint writes those pages and syncs the file,
            # a burst of I/O the ledger's commits then wait behind. A bigger WAL lets
            # one checkpoint write each page once for many pages of views
            # (docs/performance.md, "What paid").
            conn.execute("PRAGMA wal_autocheckpoint=10000")
            conn.execute("PRAGMA busy_timeout=10000")
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    @contextmanager
    def transaction(self) -> Iterator[Cursor]:
        # Two followers write here (the views and the audit log), each from a worker
        # thread. SQLite makes a second writer sleep in steps of 1 to 100 ms until the
        # first commits; waiting on this lock instead, it goes on the moment the other
        # one has committed (ops/bench --compare, SQLite, 32 clients: docs/performance.md).
        with self._write_lock:
            conn = self._connection()
            cur = conn.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                yield _SqliteCursor(cur)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[_Row]:
        # Reads need no write lock: WAL gives them a consistent snapshot.
        return [tuple(r) for r in self._connection().execute(sql, tuple(params)).fetchall()]

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()


class _PgCursor:
    """A raw cursor (``$n`` placeholders, sent as they are) behind ``?`` placeholders.

    A page's multi-row statements hold thousands of placeholders, and psycopg parses a
    ``%s`` statement that long in Python on every execute (it caches only short ones),
    which cost the server more than any view's fold under load (docs/performance.md).
    Numbering the ``?`` is a ``split`` and a ``join`` (``_numbered``).
    """

    def __init__(self, cur: psycopg.Cursor[Any]) -> None:
        self._cur = cur

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self._cur.execute(_numbered(sql), tuple(params))

    def fetchone(self) -> Any:
        return self._cur.fetchone()

    def fetchall(self) -> list[Any]:
        return self._cur.fetchall()


@functools.lru_cache(maxsize=64)  # full pages repeat their shapes; a shape can be 60 KB
def _numbered(sql: str) -> str:
    """``?`` placeholders as PostgreSQL's ``$1, $2, …`` (the views' SQL has no literal
    ``?``): a split and a join, in C however many placeholders a page's statement has."""
    parts = sql.split("?")
    if len(parts) == 1:
        return sql
    while len(_MARKS) < len(parts) - 1:
        _MARKS.extend(f"${n}" for n in range(len(_MARKS) + 1, 2 * len(_MARKS) + 1))
    marks = _MARKS[: len(parts) - 1]
    return "".join(itertools.chain.from_iterable(zip(parts, marks, strict=False))) + parts[-1]


_MARKS = [f"${n}" for n in range(1, 1025)]  # grown as longer statements come


# View commits do not wait for their WAL flush (see the module's docstring).
_NO_FLUSH_WAIT = "SET LOCAL synchronous_commit = off"


class _PostgresViewStore(ViewStore):
    """Views in the ledger's PostgreSQL database (and schema)."""

    dialect = "postgresql"

    def __init__(self, conninfo: str, size: int, timeout: float = 30.0) -> None:
        # Autocommit: a read is a statement on its own; ``write`` sends BEGIN and COMMIT.
        # ``timeout`` bounds the wait for a connection; a lost one is reconnected for a
        # few seconds, then on demand (so at once when the server is back, rather than
        # at the next step of the pool's backoff, which reaches minutes).
        self.pool = ConnectionPool(
            conninfo,
            min_size=1,
            max_size=size,
            kwargs={"autocommit": True},
            open=True,
            timeout=timeout,
            reconnect_timeout=_RECONNECT_FOR,
        )

    @contextmanager
    def transaction(self) -> Iterator[Cursor]:
        # For migrations and resets; a projection page goes through ``write``. Not in
        # pipeline mode: a fetch there could return the result of an earlier statement
        # of the same cursor (the SET below); seen in test runs, not rare.
        with self.pool.connection() as conn, conn.transaction(), psycopg.RawCursor(conn) as cur:
            cur.execute(_NO_FLUSH_WAIT)
            yield _PgCursor(cur)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[_Row]:
        # One statement needs no transaction block: in autocommit mode it is one round
        # trip, where ``transaction()`` adds BEGIN and COMMIT.
        try:
            return self._query(sql, params)
        except psycopg.DataError as exc:
            if not _refuses_nul(exc):
                raise
            return self._query(sql, _without_nul(params))

    def _query(self, sql: str, params: Sequence[Any]) -> list[_Row]:
        with self.pool.connection() as conn, psycopg.RawCursor(conn) as cur:
            _PgCursor(cur).execute(sql, params)
            return [tuple(row) for row in cur.fetchall()]

    def write(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> None:
        # Looked for only once refused: scanning every parameter of every page would
        # cost the common case for the rare one.
        try:
            self._write(statements)
        except psycopg.DataError as exc:
            if not _refuses_nul(exc):
                raise
            self._write([(sql, _without_nul(params)) for sql, params in statements])

    def probe(self) -> None:
        # After an outage every idle connection is broken: replace them first, or the
        # next requests would each find one.
        self.pool.check()
        super().probe()

    def _write(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> None:
        # One round trip: BEGIN, the statements and COMMIT are answered together when
        # the pipeline ends. ``transaction()`` waits after BEGIN and around COMMIT, four
        # round trips a page, and at each one the worker thread and the main thread
        # hand the interpreter lock back and forth (docs/performance.md, "What paid").
        # After an error the server skips the rest, COMMIT
        # included, and the pool rolls the failed block back when the connection returns.
        with self.pool.connection() as conn:
            failed: psycopg.Error | None = None
            try:
                with conn.pipeline(), psycopg.RawCursor(conn) as raw:
                    cur = _PgCursor(raw)
                    try:
                        cur.execute("BEGIN")
                        cur.execute(_NO_FLUSH_WAIT)
                        for sql, params in statements:
                            cur.execute(sql, params)
                        cur.execute("COMMIT")
                    except psycopg.Error as exc:
                        # The error arrived while statements were still being sent.
                        # Leaving the pipeline then reports it aborted; raised here, that
                        # second error would be logged as a warning on the way out.
                        failed = exc
            except psycopg.Error:
                if failed is None:
                    raise
            if failed is not None:
                raise failed

    def close(self) -> None:
        self.pool.close()


_RECONNECT_FOR = 3.0  # seconds; psycopg_pool's default is 5 minutes
_NUL, _REPLACEMENT = "\x00", "\ufffd"


def _refuses_nul(exc: psycopg.DataError) -> bool:
    # psycopg refuses it before sending: "PostgreSQL text fields cannot contain NUL".
    return "NUL" in str(exc)


def _without_nul(params: Sequence[Any]) -> tuple[Any, ...]:
    return tuple(p.replace(_NUL, _REPLACEMENT) if isinstance(p, str) else p for p in params)


def open_view_store(settings: Settings) -> ViewStore:
    """The view store for these settings (not yet migrated)."""
    if settings.database_url is None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        return _SqliteViewStore(settings.data_dir / "views.db")
    target = postgres_target(settings.database_url)
    return _PostgresViewStore(
        target.conninfo(connect_timeout=settings.store_timeout),
        size=settings.db_threads,
        timeout=settings.store_timeout,
    )


def migration_files(dialect: str) -> list[Traversable]:
    """The numbered SQL files for ``dialect``, in order, from the installed package.

    They are package data (``atp/migrations`` in the wheel; the repository's top-level
    ``migrations/`` in a checkout), so they are found wherever the package is.

    Raises:
        FileNotFoundError: none found: an install without its migrations must not pass
            for a store that needs none.
    """
    folder = importlib.resources.files("atp") / "migrations" / dialect
    files = (
        sorted((f for f in folder.iterdir() if f.name.endswith(".sql")), key=lambda f: f.name)
        if folder.is_dir()
        else []
    )
    if not files:
        raise FileNotFoundError(f"no {dialect} migrations in the installed atp package")
    return files


def apply_migrations(store: ViewStore) -> list[str]:
    """Apply the numbered SQL files not yet applied; return their names.

    Raises:
        FileNotFoundError: the package holds no migrations (:func:`migration_files`).
    """
    files = migration_files(store.dialect)
    applied: list[str] = []
    with store.transaction() as cur:
        cur.execute(
            "CREATE TABLE IF NOT EXISTS atp_schema_migrations "
            "(version TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
        )
        cur.execute("SELECT version FROM atp_schema_migrations")
        done = {row[0] for row in cur.fetchall()}
        for path in files:
            version = path.name.removesuffix(".sql")
            if version in done:
                continue
            for statement in path.read_text().split(";"):
                if statement.strip() and not _only_comments(statement):
                    cur.execute(statement)
            cur.execute(
                "INSERT INTO atp_schema_migrations (version, applied_at) VALUES (?, ?)",
                (version, datetime.now(UTC).isoformat()),
            )
            applied.append(version)
    return applied


def pending_migrations(store: ViewStore) -> list[str]:
    """The packaged migrations this store has not applied, in order (all of them if it
    was never migrated).

    Raises:
        FileNotFoundError: the package holds no migrations (:func:`migration_files`).
    """
    versions = [path.name.removesuffix(".sql") for path in migration_files(store.dialect)]
    try:
        done = {row[0] for row in store.query("SELECT version FROM atp_schema_migrations")}
    except (psycopg.errors.UndefinedTable, sqlite3.OperationalError):
        done = set()
    return [version for version in versions if version not in done]


def _only_comments(statement: str) -> bool:
    return all(not line.strip() or line.strip().startswith("--") for line in statement.splitlines())
