"""Running the carrier: ``serve``, ``migrate`` and ``projections rebuild``.

These import the server lazily: the client commands must start fast, and a client-only
install (``pip install atp-carrier``, without the ``server`` extra) has none of the
server's packages. There these commands say what to install instead of a traceback.

A store that cannot be used as configured (unreachable, no such database or schema,
wrong password, not migrated, a damaged file) ends them with one line that says what is
wrong and what to do, and exit status 1: never a traceback, never the password. The
store is checked before anything else touches it, the writer lock included.

Each then takes the ledger's writer lock and holds it to the end (``atp migrate`` only
when it has something to apply), so one of them runs per ledger; another is refused
with one line naming the holder.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from atp.cli._output import CliError
from atp.errors import ProjectionStuck, StoreSetupError
from atp.settings import Settings

if TYPE_CHECKING:
    from atp.ledger import Role, WriterLock
    from atp.projections import ViewStore

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
    settings = Settings.from_env()
    from atp.observe import configure_logging

    # The one place logging is set up: before anything of the carrier logs.
    configure_logging(settings.log_level, settings.log_format)
    return settings


@contextmanager
def _one_line() -> Iterator[None]:
    """Whatever an operator can fix (the store, a setting, the lock's holder, the system:
    a port in use, a directory it may not write) becomes the CLI's one line
    (``error: ...``), each saying what is wrong itself.

    Inside ``trio.run`` an error can come wrapped in exception groups (one per nursery
    it left); a group of one is unwrapped to find it.
    """
    from atp.ledger import LedgerInUse, LedgerTaken

    try:
        yield
    except BaseException as exc:
        inner = exc
        while isinstance(inner, BaseExceptionGroup) and len(inner.exceptions) == 1:
            inner = inner.exceptions[0]
        fixable = (
            StoreSetupError | ProjectionStuck | LedgerInUse | LedgerTaken | ValueError | OSError
        )
        if isinstance(inner, fixable):
            raise CliError(str(inner)) from None
        raise


@contextmanager
def _operating(settings: Settings, role: Role) -> Iterator[WriterLock]:
    """The checked store's writer lock, held inside (errors as :func:`_one_line`)."""
    from atp.ledger import check_store, writer_lock

    with _one_line():
        check_store(settings)
        with writer_lock(settings, role) as lock:
            yield lock


def serve() -> None:
    """Run the carrier (HTTP API, actors, projections) until SIGINT or SIGTERM."""
    settings = _settings()
    import trio

    from atp.ledger import Role
    from atp.serve import serve as run

    with _operating(settings, Role.SERVE) as lock:
        trio.run(run, settings, lock)


def migrate() -> None:
    """Apply the packaged migrations to the configured store.

    Applying takes the writer lock (no server may run: a newer release's migrations
    would change tables under an older server). With nothing to apply it takes no lock,
    so a deployment that runs ``atp migrate`` before every start also passes while a
    server of the same release runs.
    """
    settings = _settings()
    from atp.ledger import Role, check_store, writer_lock
    from atp.projections import apply_migrations, pending_migrations

    with _one_line():
        check_store(settings)
        if not _with_views(settings, pending_migrations):
            applied: list[str] = []
        else:
            with writer_lock(settings, Role.MIGRATE):
                applied = _with_views(settings, apply_migrations)
    print(f"applied {len(applied)} migration(s): {', '.join(applied) or 'none needed'}")


def _with_views(settings: Settings, run: Callable[[ViewStore], list[str]]) -> list[str]:
    """``run`` on the opened view store; a store error becomes its one line."""
    from atp.ledger import describe_store_error
    from atp.projections import open_view_store

    try:
        store = open_view_store(settings)
        try:
            return run(store)
        finally:
            store.close()
    except OSError:
        raise  # no migrations in the package: its own message says so
    except Exception as exc:
        raise StoreSetupError(describe_store_error(exc)) from exc


def rebuild_projections() -> None:
    """Rebuild every read model, and the audit log's records and tree, from the ledger."""
    settings = _settings()
    import trio

    from atp.ledger import Role

    with _operating(settings, Role.REBUILD) as lock:
        trio.run(_rebuild, settings, lock)


async def _rebuild(settings: Settings, lock: WriterLock) -> None:
    import attrs

    from atp.audit import AuditFollower
    from atp.ledger import LedgerTaken, LockState
    from atp.projections import rebuild
    from atp.serve import open_runtime

    # The log's follower in this process, to rebuild it here.
    async with open_runtime(attrs.evolve(settings, audit_follower="inline"), lock) as runtime:
        position = await rebuild(runtime.projections)
        writer = runtime.audit.writer
        assert isinstance(writer, AuditFollower)
        leaves = await rebuild(writer.runner)  # the checkpoints stay, to be matched
    if lock.state is LockState.TAKEN:
        raise LedgerTaken(lock.ledger, lock.taken_by)
    print(f"rebuilt read models up to notification {position}, the audit log up to {leaves}")
