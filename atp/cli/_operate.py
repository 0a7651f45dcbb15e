"""Running the carrier: ``serve``, ``migrate`` and ``projections rebuild``.

These import the server lazily: the client commands must start fast, and a client-only
install (``pip install atp-carrier``, without the ``server`` extra) has none of the
server's packages. There these commands say what to install instead of a traceback.

A store that cannot be used as configured (unreachable, no such database or schema,
wrong password, not migrated, a damaged file) ends them with one line that says what is
wrong and what to do, and exit status 1: never a traceback, never the password.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from atp.cli._output import CliError
from atp.errors import ProjectionStuck, StoreSetupError
from atp.settings import Settings

__all__ = ["migrate", "rebuild_projections", "serve"]

# One module of each package the carrier needs beyond the client's.
_SERVER_PACKAGES = ("trio", "hypercorn", "quart_trio", "eventsourcing", "psycopg", "psycopg_pool")


def _settings() -> Settings:
    missing = [name for name in _SERVER_PACKAGES if importlib.util.find_spec(name) is None]
    if missing:
        raise CliError(
            f"the carrier is not installed here ({', '.join(missing)} missing):"
            " pip install 'atp-carrier[server]'"
        )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    return Settings.from_env()


@contextmanager
def _one_line() -> Iterator[None]:
    """Turn a failure an operator can fix into the CLI's one line (``error: ...``).

    Inside ``trio.run`` an error can come wrapped in exception groups (one per nursery
    it left); a group of one is unwrapped to find it.
    """
    try:
        yield
    except BaseException as exc:
        inner = exc
        while isinstance(inner, BaseExceptionGroup) and len(inner.exceptions) == 1:
            inner = inner.exceptions[0]
        if isinstance(inner, StoreSetupError | ProjectionStuck | ValueError):
            raise CliError(str(inner)) from None
        raise


def _in_trio(settings: Settings, run: Callable[[Settings], object]) -> None:
    import trio

    with _one_line():
        trio.run(run, settings)  # type: ignore[arg-type]


def serve() -> None:
    """Run the carrier (HTTP API, actors, projections) until SIGINT or SIGTERM."""
    settings = _settings()
    from atp.serve import serve as run

    _in_trio(settings, run)


def migrate() -> None:
    """Apply the packaged migrations to the configured store."""
    settings = _settings()
    from atp.ledger import check_store, describe_store_error
    from atp.projections import apply_migrations, open_view_store

    with _one_line():
        check_store(settings)
        try:
            store = open_view_store(settings)
            try:
                applied = apply_migrations(store)
            finally:
                store.close()
        except OSError:
            raise  # no migrations in the package: its own message says so
        except Exception as exc:
            raise StoreSetupError(describe_store_error(exc)) from exc
    print(f"applied {len(applied)} migration(s): {', '.join(applied) or 'none needed'}")


def rebuild_projections() -> None:
    """Rebuild every read model from the ledger."""
    settings = _settings()
    _in_trio(settings, _rebuild)


async def _rebuild(settings: Settings) -> None:
    from atp.projections import rebuild
    from atp.serve import open_runtime

    async with open_runtime(settings) as runtime:
        position = await rebuild(runtime.projections)
    print(f"rebuilt read models up to notification {position}")
