"""The idempotency gate: replay, conflict, in-progress, or a ticket to go ahead.

Contract §2.6. The committed answer lives in the ledger as an ``IdempotencyRecord``
whose id is derived from the scope, saved in the same transaction as the mutation
it answers; so a crash can never keep one without the other, and an error (which
saves nothing) leaves the key free to retry. While a request is in flight, this
process remembers its scope so that a concurrent duplicate gets
``idempotency_in_progress`` instead of a second mutation. The owning actor looks up
the committed records of a whole batch in one trip to the ledger; a mailbox command
alone in its batch skips that trip, since the record's id makes a second record
impossible: a refused commit shows the key was answered before (``KeyLookup``).
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

import attrs
import trio

from atp.domain import IdempotencyRecord
from atp.errors import IdempotencyConflict, IdempotencyInProgress
from atp.ledger import Ledger
from atp.sealing import Sealer

__all__ = ["IdempotencyGate", "StoredAnswer", "Ticket", "encode_answer", "request_hash"]

# json.dumps builds a new encoder on every call that passes options; reuse them.
_COMPACT = json.JSONEncoder(separators=(",", ":"))
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def request_hash(params: Mapping[str, Any]) -> str:
    """SHA-256 of the request's parameters as canonical JSON: key order and spacing don't count."""
    return hashlib.sha256(_CANONICAL.encode(params).encode()).hexdigest()


def encode_answer(body: dict[str, Any]) -> bytes:
    """An answer's body as stored and sent (Quart's compact JSON, without its newline)."""
    return _COMPACT.encode(body).encode()


@attrs.define
class _Running:
    digest: str
    done: trio.Event = attrs.field(factory=trio.Event)
    # An actor looked, and no record was stored; while this request runs, none can be
    # (the gate admits no other), until its own commits one.
    absent: bool = False


@attrs.frozen
class StoredAnswer:
    """The stored answer of a completed request with the same key and body."""

    status: int
    encoded: bytes = attrs.field(repr=False)  # the body as first sent (it may hold a token)


@attrs.frozen
class Ticket:
    """Permission to perform one idempotent mutation; the actor turns it into the record."""

    scope: str
    request_hash: str

    @functools.cached_property
    def record_id(self) -> UUID:
        """The ledger id of this scope's record (a uuid5, computed once: the actor's
        lookup asks for it twice per command)."""
        return IdempotencyRecord.create_id(self.scope)

    def record(
        self, status: int, encoded: bytes, sealer: Sealer, now: datetime
    ) -> IdempotencyRecord:
        """The ledger record of this request's answer (body sealed: it may hold a token)."""
        return IdempotencyRecord.record(
            self.record_id,
            scope=self.scope,
            request_hash=self.request_hash,
            status=status,
            sealed_body=sealer.seal(encoded),
            at=now,
        )


class IdempotencyGate:
    """Admits one request per idempotency scope at a time; tells finished ones apart.

    Two halves: ``enter`` is the in-memory, in-flight half (no I/O). The committed half
    is checked by the owning actor for a whole batch of commands in one trip to the
    ledger (``replay_of``), or proven absent by the commit of a lone command, and by
    ``committed`` on the slow path of a refused request.
    """

    def __init__(self, ledger: Ledger, sealer: Sealer) -> None:
        self._ledger = ledger
        self._sealer = sealer
        self._in_flight: dict[str, _Running] = {}

    @staticmethod
    def scope(account_id: str, kind: str, principal_id: str, route: str, key: str) -> str:
        """The contract's uniqueness scope: (account, principal type, principal, route, key)."""
        return f"{account_id}|{kind}|{principal_id}|{route}|{key}"

    async def enter(self, scope: str, digest: str, *, wait: bool) -> Ticket:
        """Admit a request once no other request with its scope is running.

        A duplicate of a running request either waits for it and then goes on (to be
        answered with the stored reply, or to retry if the first failed), or, with
        ``wait=False``, is refused at once. The contract waits on single-transaction
        routes and refuses on the two-phase ones (sends, session opens and sends).

        Raises:
            IdempotencyInProgress: the same request is running and ``wait`` is false.
            IdempotencyConflict: the key is in use with a different request.
        """
        while (running := self._in_flight.get(scope)) is not None:
            if running.digest != digest:
                raise IdempotencyConflict()
            if not wait:
                raise IdempotencyInProgress()
            await running.done.wait()
        self._in_flight[scope] = _Running(digest)
        return Ticket(scope, digest)

    def leave(self, ticket: Ticket) -> None:
        """The request is answered (committed or failed): free its scope, wake duplicates."""
        running = self._in_flight.pop(ticket.scope, None)
        if running is not None:
            running.done.set()

    def unanswered(self, ticket: Ticket) -> bool:
        """Whether this running request is known to have no stored answer yet (so a
        command passed on with its ticket, or asked again, needs no ledger lookup)."""
        running = self._in_flight.get(ticket.scope)
        return running is not None and running.absent

    def looked_up(self, ticket: Ticket, record: IdempotencyRecord | None) -> None:
        """Remember what the lookup for this running request found."""
        running = self._in_flight.get(ticket.scope)
        if running is not None:
            running.absent = record is None

    def recorded(self, scope: str) -> None:
        """This request's answer was committed: a later ask must look it up."""
        running = self._in_flight.get(scope)
        if running is not None:
            running.absent = False

    def replay_of(self, ticket: Ticket, record: IdempotencyRecord) -> StoredAnswer:
        """The stored answer for this ticket's scope.

        Raises:
            IdempotencyConflict: the record answers a different request.
        """
        if record.request_hash != ticket.request_hash:
            raise IdempotencyConflict()
        return StoredAnswer(record.status, self._sealer.unseal(record.sealed_body))

    async def committed(self, ticket: Ticket) -> StoredAnswer | None:
        """The stored answer for this scope, if any (one ledger read).

        Raises:
            IdempotencyConflict: the key was used with a different request.
        """
        record = await self._ledger.get(IdempotencyRecord, ticket.record_id)
        return None if record is None else self.replay_of(ticket, record)
