"""Which writer lock a store has: a file lock for SQLite, an advisory lock for PostgreSQL."""

from __future__ import annotations

from atp.ledger._advisory_lock import AdvisoryLock
from atp.ledger._file_lock import FileLock
from atp.ledger._ownership import Holder, Role, WriterLock
from atp.ledger._stores import postgres_target
from atp.settings import Settings

__all__ = ["writer_lock"]


def writer_lock(settings: Settings, role: Role) -> WriterLock:
    """The (not yet acquired) writer lock of the ledger ``settings`` name, for ``role``.

    Use it as a context manager: ``with writer_lock(settings, Role.SERVE) as lock:``
    takes it (raising ``LedgerInUse`` naming the holder) and gives it up on exit.
    """
    holder = Holder.mine(role)
    if settings.database_url is None:
        return FileLock(settings.data_dir, holder)
    return AdvisoryLock(postgres_target(settings.database_url), holder)
