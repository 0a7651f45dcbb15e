"""Which store: the embedded SQLite file, or PostgreSQL; and how to reach it."""

from __future__ import annotations

from urllib.parse import parse_qs, unquote, urlsplit

import attrs
from psycopg.conninfo import make_conninfo

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
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
    "tcp_user_timeout": 10_000,
}


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
        params: dict[str, object] = {
            "host": self.host,
            "port": self.port,
            "dbname": self.dbname,
            "user": self.user,
        }
        if connect_timeout is not None:
            params["connect_timeout"] = libpq_seconds(connect_timeout)
            params.update(LIVENESS)
        if self.password:
            params["password"] = self.password
        if self.schema:
            params["options"] = f"-c search_path={self.schema}"
        # make_conninfo quotes each value: a password with a space, a quote or a
        # backslash must reach the server as it is, never break the string apart.
        return make_conninfo(**params)  # type: ignore[arg-type]


def postgres_target(url: str) -> PostgresTarget:
    """Parse a PostgreSQL URL. ``?schema=`` keeps the carrier's tables in one schema.

    Raises:
        ValueError: not a ``postgresql://`` / ``postgres://`` URL, or not a URL at all
            (the message never quotes it: it holds the password).
    """
    parts = urlsplit(url)
    if parts.scheme not in ("postgresql", "postgres"):
        raise ValueError("ATP_DATABASE_URL must start with postgresql://")
    query = parse_qs(parts.query)
    try:
        port = parts.port or 5432
    except ValueError:  # its text would quote what stands after the colon: the password
        raise ValueError(
            "ATP_DATABASE_URL is not a valid URL: URL-encode the user name and password"
            " (a '/', '@', ':' or '#' in them must be written %2F, %40, %3A, %23)"
        ) from None
    return PostgresTarget(
        host=parts.hostname or "127.0.0.1",
        port=port,
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
