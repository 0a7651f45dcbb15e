"""Running the carrier: ``serve``, ``migrate`` and ``projections rebuild``.

These import the server lazily: the client commands must start fast and must not
need the server's packages loaded.
"""

from __future__ import annotations

import logging

import trio

from atp.settings import Settings

__all__ = ["migrate", "rebuild_projections", "serve"]


def _settings() -> Settings:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    return Settings.from_env()


def serve() -> None:
    """Run the carrier (HTTP API, actors, projections) until SIGINT or SIGTERM."""
    from atp.serve import serve as run

    trio.run(run, _settings())


def migrate() -> None:
    """Apply ``migrations/`` to the configured store."""
    from projections import apply_migrations, open_view_store

    store = open_view_store(_settings())
    try:
        applied = apply_migrations(store)
    finally:
        store.close()
    print(f"applied {len(applied)} migration(s): {', '.join(applied) or 'none needed'}")


def rebuild_projections() -> None:
    """Rebuild every read model from the ledger."""
    trio.run(_rebuild, _settings())


async def _rebuild(settings: Settings) -> None:
    from atp.serve import open_runtime
    from projections import rebuild

    async with open_runtime(settings) as runtime:
        position = await rebuild(runtime.projections)
    print(f"rebuilt read models up to notification {position}")
