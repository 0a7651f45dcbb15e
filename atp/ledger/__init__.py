"""The ledger: one eventsourcing Application, the only bridge to threads, and its one writer."""

from atp.ledger._advisory_lock import AdvisoryLock
from atp.ledger._application import CarrierLedger, Ledger, LedgerConflict, Notification
from atp.ledger._bridge import Bridge, BridgeStatistics
from atp.ledger._file_lock import FileLock
from atp.ledger._ownership import (
    LEDGER,
    Holder,
    LedgerInUse,
    LedgerNotHeld,
    LedgerTaken,
    LockState,
    Role,
    WriterLock,
    WriterLockStatistics,
)
from atp.ledger._stores import PostgresTarget, eventsourcing_env, postgres_target
from atp.ledger._writer_lock import writer_lock

__all__ = [
    "LEDGER",
    "AdvisoryLock",
    "Bridge",
    "BridgeStatistics",
    "CarrierLedger",
    "FileLock",
    "Holder",
    "Ledger",
    "LedgerConflict",
    "LedgerInUse",
    "LedgerNotHeld",
    "LedgerTaken",
    "LockState",
    "Notification",
    "PostgresTarget",
    "Role",
    "WriterLock",
    "WriterLockStatistics",
    "eventsourcing_env",
    "postgres_target",
    "writer_lock",
]
