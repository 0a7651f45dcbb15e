"""The idempotency gate: replay, conflict, in-progress, or a ticket to go ahead.

Contract §2.6. The committed answer lives in the ledger as an ``IdempotencyRecord``
whose id is derived from the scope, saved in the same transaction as the mutation
it answers; so a crash can never keep one without the other, and an error (which
saves nothing) leaves the key free to retry. While a request is in flight, this
process remembers its scope so that a concurrent duplicate gets
``idempotency_in_progress`` instead of a second mutation.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import attrs

from atp.domain import IdempotencyRecord
from atp.errors import IdempotencyConflict, IdempotencyInProgress
from atp.ledger import Ledger
from atp.sealing import Sealer

__all__ = ["IdempotencyGate", "Replay", "Ticket", "request_hash"]


def request_hash(params: Mapping[str, Any]) -> str:
    """SHA-256 of the request's parameters as canonical JSON: key order and spacing don't count."""
    canonical = json.dumps(params, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


@attrs.frozen
class Replay:
    """The stored answer of a completed request with the same key and body."""

    status: int
    body: dict[str, Any]


@attrs.frozen
class Ticket:
    """Permission to perform one idempotent mutation; the actor turns it into the record."""

    scope: str
    request_hash: str

    def record(
        self, status: int, body: dict[str, Any], sealer: Sealer, now: datetime
    ) -> IdempotencyRecord:
        """The ledger record of this request's answer (body sealed: it may hold a token)."""
        sealed = sealer.seal(json.dumps(body, separators=(",", ":")).encode())
        return IdempotencyRecord(
            scope=self.scope,
            request_hash=self.request_hash,
            status=status,
            sealed_body=sealed,
            at=now,
        )


class IdempotencyGate:
    """Admits one request per idempotency scope at a time, and replays finished ones."""

    def __init__(self, ledger: Ledger, sealer: Sealer) -> None:
        self._ledger = ledger
        self._sealer = sealer
        self._in_flight: dict[str, str] = {}

    @staticmethod
    def scope(account_id: str, kind: str, principal_id: str, route: str, key: str) -> str:
        """The contract's uniqueness scope: (account, principal type, principal, route, key)."""
        return f"{account_id}|{kind}|{principal_id}|{route}|{key}"

    async def enter(self, scope: str, digest: str) -> Ticket | Replay:
        """Admit a request, or answer it from the ledger.

        Raises:
            IdempotencyInProgress: the same request is being processed now.
            IdempotencyConflict: the key was used with a different request.
        """
        running = self._in_flight.get(scope)
        if running is not None:
            raise IdempotencyInProgress() if running == digest else IdempotencyConflict()
        self._in_flight[scope] = digest
        try:
            record = await self._ledger.get(IdempotencyRecord, IdempotencyRecord.create_id(scope))
        except BaseException:
            del self._in_flight[scope]
            raise
        if record is None:
            return Ticket(scope, digest)
        del self._in_flight[scope]
        if record.request_hash != digest:
            raise IdempotencyConflict()
        return Replay(record.status, json.loads(self._sealer.unseal(record.sealed_body)))

    def leave(self, ticket: Ticket) -> None:
        """The request is answered (committed or failed): free its scope."""
        self._in_flight.pop(ticket.scope, None)
