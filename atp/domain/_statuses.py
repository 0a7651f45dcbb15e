"""The statuses a message, its deliveries and its ACKs go through (contract §4).

Each is a ``StrEnum`` whose values are the strings the contract names: members are
``str``, so JSON (the API's answers, the ledger's events) writes exactly those strings,
and a string read back compares equal to its member.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "ACK_STATUSES",
    "TERMINAL_ACK_STATUSES",
    "AckStatus",
    "CarrierStatus",
    "DeliveryMode",
    "DeliveryStatus",
]


class CarrierStatus(StrEnum):
    """Where the carrier stands with a message (``carrier_status``)."""

    QUEUED = "queued"  # waiting to be handed out
    DELIVERED = "delivered"  # handed out: leased by polling, or pushed with a 2xx
    EXPIRED = "expired"  # nobody took it before expires_at
    REJECTED = "rejected"  # the recipient's sender policy blocked it
    DELIVERY_FAILED = "delivery_failed"  # its webhook delivery failed: a dead letter
    CANCELED = "canceled"  # its sender withdrew it before anyone took it (A2A CancelTask)


class AckStatus(StrEnum):
    """What the recipient answered (``ack_status``, contract §4.4)."""

    ACCEPTED = "accepted"
    COMPLETED = "completed"
    FAILED = "failed"
    REJECTED = "rejected"


ACK_STATUSES: tuple[AckStatus, ...] = tuple(AckStatus)
TERMINAL_ACK_STATUSES = frozenset({AckStatus.COMPLETED, AckStatus.FAILED, AckStatus.REJECTED})


class DeliveryMode(StrEnum):
    """How a delivery hands the message out."""

    POLLING = "polling"
    WEBHOOK = "webhook"


class DeliveryStatus(StrEnum):
    """Where a delivery stands; a webhook attempt ends in one of the last three."""

    LEASED = "leased"  # a polling lease, or a webhook attempt in flight
    DELIVERED = "delivered"
    RETRY_SCHEDULED = "retry_scheduled"  # a webhook delivery due at next_attempt_at
    FAILED = "failed"
