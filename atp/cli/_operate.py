"""Running the carrier: ``serve``, ``migrate`` and ``projections rebuild``.

These import the server lazily: the client commands must start fast, and a client-only
install (``pip install atp-carrier``, without the ``server`` extra) has none of the
server's packages. There these commands say what to install instead of a traceback.
"""

from __future__ import annotations

import importlib.util

from atp.cli._output import CliError
from atp.settings import Settings

__all__ = ["migrate", "rebuild_projections", "serve"]

# One module of each package the carrier needs beyond the client's.
_SERVER_PACKAGES = (
    "trio", "hypercorn", "quart_trio", "eventsourcing", "psycopg", "psycopg_pool",
    "pythonjsonlogger", "prometheus_client",
)  # fmt: skip


def _settings() -> Settings:
    missing = [name for name in _SERVER_PACKAGES if importlib.util.find_spec(name) is None]
    if missing:
        raise CliError(
            f"the carrier is not installed here ({', '.join(missing)} missing):"
            " pip install 'atp-carrier[server]'"
        )
    settings = Settings.from_env()
    from atp.observe import configure_logging

    # The one place logging is set up: before anything of the carrier logs.
    configure_logging(settings.log_level, settings.log_format)
    return settings


def serve() -> None:
    """Run the carrier (HTTP API, actors, projections) until SIGINT or SIGTERM."""
    settings = _settings()
    import trio

    from atp.serve import serve as run

    trio.run(run, settings)


def migrate() -> None:
    """Apply the packaged migrations to the configured store."""
    settings = _settings()
    from atp.projections import apply_migrations, open_view_store

    store = open_view_store(settings)
    try:
        applied = apply_migrations(store)
    finally:
        store.close()
    print(f"applied {len(applied)} migration(s): {', '.join(applied) or 'none needed'}")


def rebuild_projections() -> None:
    """Rebuild every read model from the ledger."""
    settings = _settings()
    import trio

    trio.run(_rebuild, settings)


async def _rebuild(settings: Settings) -> None:
    from atp.projections import rebuild
    from atp.serve import open_runtime

    async with open_runtime(settings) as runtime:
        position = await rebuild(runtime.projections)
    print(f"rebuilt read models up to notification {position}")
