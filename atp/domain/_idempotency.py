"""IdempotencyRecord: the stored answer to one (principal, route, key).

Its ledger id is derived from the scope, so the event store's uniqueness on
(aggregate id, version) is what makes a second record for the same scope
impossible, across processes too. The response body is stored sealed (encrypted),
because it can hold a freshly issued token (contract §2.6).
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from atp.domain._ids import aggregate_id

__all__ = ["IdempotencyRecord"]


class IdempotencyRecord(Aggregate):
    """A completed idempotent request: the request's hash and its sealed response."""

    class Recorded(Aggregate.Created):
        scope: str
        request_hash: str
        status: int
        sealed_body: str
        at: datetime

    @staticmethod
    def create_id(scope: str) -> UUID:
        return aggregate_id("idem:" + scope)

    @classmethod
    def record(
        cls,
        record_id: UUID,
        *,
        scope: str,
        request_hash: str,
        status: int,
        sealed_body: str,
        at: datetime,
    ) -> IdempotencyRecord:
        """The record of ``scope``, whose id the caller already derived (``create_id``).

        Equivalent to ``IdempotencyRecord(...)`` at half the cost: one is made for every
        answered request, and the constructor derives the id again and coerces its
        arguments through the metaclass.
        """
        return cls._create(
            cls.Recorded,
            id=record_id,
            scope=scope,
            request_hash=request_hash,
            status=status,
            sealed_body=sealed_body,
            at=at,
        )

    @event(Recorded)
    def __init__(
        self, scope: str, request_hash: str, status: int, sealed_body: str, at: datetime
    ) -> None:
        self.scope = scope
        self.request_hash = request_hash
        self.status = status
        self.sealed_body = sealed_body
        self.created_at = at
