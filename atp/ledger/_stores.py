"""Which store: the embedded SQLite file, or PostgreSQL; and how to reach it."""

from __future__ import annotations

from urllib.parse import parse_qs, unquote, urlsplit

import attrs

from atp.settings import Settings

__all__ = ["PostgresTarget", "eventsourcing_env", "postgres_target"]


@attrs.frozen
class PostgresTarget:
    """A parsed ``postgresql://user:pass@host:port/db?schema=name`` URL."""

    host: str
    port: int
    dbname: str
    user: str
    password: str = attrs.field(repr=False)
    schema: str

    def conninfo(self) -> str:
        """A libpq conninfo string (psycopg) with the schema on the search path."""
        parts = [
            f"host={self.host}", f"port={self.port}", f"dbname={self.dbname}", f"user={self.user}",
        ]  # fmt: skip
        if self.password:
            parts.append(f"password={self.password}")
        if self.schema:
            parts.append(f"options='-c search_path={self.schema}'")
        return " ".join(parts)


def postgres_target(url: str) -> PostgresTarget:
    """Parse a PostgreSQL URL. ``?schema=`` keeps the carrier's tables in one schema.

    Raises:
        ValueError: not a ``postgresql://`` / ``postgres://`` URL.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("postgresql", "postgres"):
        raise ValueError("ATP_DATABASE_URL must start with postgresql://")
    query = parse_qs(parts.query)
    return PostgresTarget(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 5432,
        dbname=unquote(parts.path.lstrip("/")) or "postgres",
        user=unquote(parts.username or "postgres"),
        password=unquote(parts.password or ""),
        schema=query.get("schema", [""])[0],
    )


def eventsourcing_env(settings: Settings) -> dict[str, str]:
    """The environment eventsourcing reads to build its recorder for these settings."""
    if settings.database_url is None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        return {
            "PERSISTENCE_MODULE": "atp.ledger._sqlite:LedgerSQLiteFactory",
            "SQLITE_DBNAME": str(settings.data_dir / "ledger.db"),
            "SQLITE_LOCK_TIMEOUT": "10",
        }
    target = postgres_target(settings.database_url)
    env = {
        "PERSISTENCE_MODULE": "atp.ledger._postgres:LedgerPostgresFactory",
        "POSTGRES_DBNAME": target.dbname,
        "POSTGRES_HOST": target.host,
        "POSTGRES_PORT": str(target.port),
        "POSTGRES_USER": target.user,
        "POSTGRES_PASSWORD": target.password,
        "POSTGRES_POOL_SIZE": str(settings.db_threads),
        "POSTGRES_MAX_OVERFLOW": "0",
    }
    if target.schema:
        env["POSTGRES_SCHEMA"] = target.schema
    return env
