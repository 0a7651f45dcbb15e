"""The ledger: one eventsourcing Application, and the only bridge to threads."""

from atp.ledger._application import CarrierLedger, Ledger, LedgerConflict, Notification
from atp.ledger._bridge import Bridge, BridgeStatistics
from atp.ledger._stores import PostgresTarget, eventsourcing_env, postgres_target

__all__ = [
    "Bridge",
    "BridgeStatistics",
    "CarrierLedger",
    "Ledger",
    "LedgerConflict",
    "Notification",
    "PostgresTarget",
    "eventsourcing_env",
    "postgres_target",
]
