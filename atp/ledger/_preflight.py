"""Before the carrier opens its stores: are they there, and usable as configured?

A wrong setting used to surface after eventsourcing's 30 s pool timeout, as a long
traceback that never named the cause (``couldn't get a connection``). Here one direct
connection, bounded by the store timeout, finds each cause, and :class:`StoreSetupError`
says it in one line: what is wrong, and what to do. The line may name the host, port,
database, user, schema and data directory; never the password or the URL.
"""

from __future__ import annotations

import os
import re
import sqlite3
from pathlib import Path

import psycopg

from atp.errors import StoreSetupError
from atp.ledger._stores import PostgresTarget, postgres_target
from atp.settings import Settings

__all__ = ["check_store", "describe_store_error"]

_URL = "ATP_DATABASE_URL"


def check_store(settings: Settings) -> None:
    """Check that the configured store can be reached and opened (blocking).

    Raises:
        StoreSetupError: it cannot; the text says why and what to do.
    """
    if settings.database_url is None:
        _check_data_dir(settings.data_dir)
    else:
        _check_postgres(postgres_target(settings.database_url), settings.store_timeout)


def describe_store_error(exc: BaseException) -> str:
    """One line for an unforeseen store error at start: its class and first line.

    Drivers' messages name tables, schemas and users, never passwords; SQL, when they
    quote it, is on later lines.
    """
    cause = exc.__cause__ if exc.__cause__ is not None else exc
    first = (str(cause).strip().splitlines() or [""])[0][:200]
    return f"cannot open the store ({type(cause).__name__}: {first})"


# -- PostgreSQL -----------------------------------------------------------------------


def _check_postgres(target: PostgresTarget, timeout: float) -> None:
    try:
        conn = psycopg.connect(target.conninfo(connect_timeout=timeout), autocommit=True)
    except psycopg.OperationalError as exc:
        raise StoreSetupError(_connect_failure(str(exc), target, timeout)) from None
    with conn:
        if (
            target.schema
            and not conn.execute(
                "SELECT 1 FROM pg_namespace WHERE nspname = %s", (target.schema,)
            ).fetchone()
        ):
            raise StoreSetupError(
                f'schema "{target.schema}" does not exist in database "{target.dbname}" on'
                f" {_where(target)}: create it (CREATE SCHEMA {target.schema}) or fix"
                f" ?schema= in {_URL}"
            )


def _where(target: PostgresTarget) -> str:
    return f"{target.host}:{target.port}"


def _connect_failure(text: str, target: PostgresTarget, timeout: float) -> str:
    """What a failed connection means, from libpq's message (psycopg gives no SQLSTATE
    for a connection refused at start-up)."""
    where, user, db = _where(target), target.user, target.dbname
    if re.search(r'database "[^"]*" does not exist', text):
        return (
            f'database "{db}" does not exist on {where}: create it'
            f" (createdb -h {target.host} -p {target.port} -U {user} {db})"
            f" or fix the database name in {_URL}"
        )
    if "password authentication failed" in text or "no password supplied" in text:
        return (
            f'PostgreSQL on {where} refused the password of user "{user}":'
            f" check the user and password in {_URL}"
        )
    if re.search(r'role "[^"]*" does not exist', text):
        return f'PostgreSQL on {where} has no user "{user}": create it or fix the user in {_URL}'
    if "pg_hba.conf" in text:
        return (
            f'PostgreSQL on {where} does not let user "{user}" connect to "{db}" from here'
            f" (no pg_hba.conf entry): allow it in pg_hba.conf or fix {_URL}"
        )
    if "Connection refused" in text:
        return (
            f"cannot reach PostgreSQL at {where} (connection refused): is it running, and"
            f" are the host and port in {_URL} right?"
        )
    if "timeout expired" in text:
        return (
            f"cannot reach PostgreSQL at {where} (no answer within {timeout:g} s): is the"
            f" host in {_URL} right and reachable from here?"
        )
    if "resolve host" in text or "translate host name" in text:
        return f'cannot reach PostgreSQL: host "{target.host}" is unknown: fix the host in {_URL}'
    if "too many clients" in text or "connection slots" in text:
        return (
            f"PostgreSQL on {where} has no free connection slots: raise its"
            " max_connections or stop other clients, then start again"
        )
    if "starting up" in text or "shutting down" in text or "recovery mode" in text:
        return f"PostgreSQL on {where} is starting up or shutting down: start again in a moment"
    fatal = text.rsplit("FATAL:", 1)[-1].strip().splitlines()[0][:200] if text else "?"
    return f"cannot connect to PostgreSQL at {where} ({fatal}): check {_URL}"


# -- SQLite ---------------------------------------------------------------------------

_FILES = (
    ("ledger.db", "the ledger", "restore it from a backup: it is the carrier's only history"),
    (
        "views.db",
        "the views database",
        "it holds the views and the audit log, both made from the ledger: move it aside"
        " (keep it: its signed checkpoints are what the carrier attested) and start again"
        " to rebuild them",
    ),
)


def _check_data_dir(data_dir: Path) -> None:
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreSetupError(
            f"cannot create ATP_DATA_DIR {data_dir} ({exc.strerror or type(exc).__name__}):"
            " create it, writable by this user, or point ATP_DATA_DIR elsewhere"
        ) from None
    if not os.access(data_dir, os.W_OK | os.X_OK):
        raise StoreSetupError(
            f"ATP_DATA_DIR {data_dir} is not writable by this user: give it to this user"
            " (chown) or point ATP_DATA_DIR elsewhere"
        )
    key = data_dir / "secret_key"
    if key.exists() and not os.access(key, os.R_OK):
        raise StoreSetupError(
            f"the secret key {key} is not readable by this user: fix its owner or mode"
        )
    for name, what, advice in _FILES:
        path = data_dir / name
        if not path.exists():
            continue
        if not os.access(path, os.R_OK | os.W_OK):
            raise StoreSetupError(
                f"{what} {path} is not readable and writable by this user: fix its owner or mode"
            )
        try:
            conn = sqlite3.connect(path)
            try:
                conn.execute("PRAGMA schema_version").fetchone()
            finally:
                conn.close()
        except sqlite3.DatabaseError as exc:
            raise StoreSetupError(f"{what} {path} cannot be read ({exc}): {advice}") from None
