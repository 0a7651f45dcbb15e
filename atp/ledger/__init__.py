"""The ledger: one eventsourcing Application, the only bridge to threads, and the record
of whether the store is there."""

from atp.ledger._application import CarrierLedger, Ledger, LedgerConflict, Notification
from atp.ledger._availability import (
    Backoff,
    StoreAvailability,
    StoreState,
    StoreStatistics,
    StoreWatch,
    is_outage,
)
from atp.ledger._bridge import Bridge
from atp.ledger._preflight import check_store, describe_store_error
from atp.ledger._stores import PostgresTarget, eventsourcing_env, postgres_target

__all__ = [
    "Backoff",
    "Bridge",
    "CarrierLedger",
    "Ledger",
    "LedgerConflict",
    "Notification",
    "PostgresTarget",
    "StoreAvailability",
    "StoreState",
    "StoreStatistics",
    "StoreWatch",
    "check_store",
    "describe_store_error",
    "eventsourcing_env",
    "is_outage",
    "postgres_target",
]
