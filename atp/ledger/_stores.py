"""Which store: the embedded SQLite file, or PostgreSQL; and how to reach it."""

from __future__ import annotations

from urllib.parse import parse_qs, unquote, urlsplit

import attrs

from atp.settings import Settings

__all__ = [
    "CONNECT_TIMEOUT_KEY",
    "LIVENESS",
    "PostgresTarget",
    "eventsourcing_env",
    "libpq_seconds",
    "postgres_target",
]

# Our own key in eventsourcing's environment: libpq's connect timeout for the ledger's
# pool (``LedgerPostgresFactory``; eventsourcing sets none).
CONNECT_TIMEOUT_KEY = "ATP_LIBPQ_CONNECT_TIMEOUT"
# A server that vanishes from the network (no reset, no refusal) must not hold a call for
# the operating system's minutes: unacknowledged data fails the connection after 10 s,
# and an idle one is found dead after 10 + 3 x 5 s. A busy server still acknowledges.
LIVENESS = {
    "keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5, "keepalives_count": 3,
    "tcp_user_timeout": 10_000,
}  # fmt: skip


def libpq_seconds(seconds: float) -> int:
    """A timeout as libpq takes it: whole seconds, and 2 at least (it treats 1 as 2)."""
    return max(2, round(seconds))


@attrs.frozen
class PostgresTarget:
    """A parsed ``postgresql://user:pass@host:port/db?schema=name`` URL."""

    host: str
    port: int
    dbname: str
    user: str
    password: str = attrs.field(repr=False)
    schema: str

    def conninfo(self, connect_timeout: float | None = None) -> str:
        """A libpq conninfo string (psycopg) with the schema on the search path.

        ``connect_timeout`` bounds each connection attempt (libpq counts whole
        seconds, at least 2), and :data:`LIVENESS` bounds a lost connection; without
        them libpq waits for the operating system.
        """
        parts = [
            f"host={self.host}", f"port={self.port}", f"dbname={self.dbname}", f"user={self.user}",
        ]  # fmt: skip
        if connect_timeout is not None:
            parts.append(f"connect_timeout={libpq_seconds(connect_timeout)}")
            parts += [f"{name}={value}" for name, value in LIVENESS.items()]
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
        # How long a call waits for a pooled connection (eventsourcing's default is
        # 30 s): past it the call fails and the request is answered 503.
        "POSTGRES_CONNECT_TIMEOUT": str(libpq_seconds(settings.store_timeout)),
        CONNECT_TIMEOUT_KEY: str(libpq_seconds(settings.store_timeout)),
    }
    if target.schema:
        env["POSTGRES_SCHEMA"] = target.schema
    return env
