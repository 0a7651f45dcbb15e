"""The ledger: one eventsourcing Application, the only bridge to threads, its one writer,
and the record of whether the store is there."""

from atp.ledger._advisory_lock import AdvisoryLock
from atp.ledger._application import CarrierLedger, Ledger, LedgerConflict, Notification
from atp.ledger._availability import (
    Backoff,
    StoreAvailability,
    StoreState,
    StoreStatistics,
    StoreWatch,
    is_outage,
)
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
from atp.ledger._preflight import check_store, describe_store_error
from atp.ledger._stores import PostgresTarget, eventsourcing_env, postgres_target
from atp.ledger._writer_lock import writer_lock

__all__ = [
    "LEDGER",
    "AdvisoryLock",
    "Backoff",
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
    "StoreAvailability",
    "StoreState",
    "StoreStatistics",
    "StoreWatch",
    "WriterLock",
    "WriterLockStatistics",
    "check_store",
    "describe_store_error",
    "eventsourcing_env",
    "is_outage",
    "postgres_target",
    "writer_lock",
]
