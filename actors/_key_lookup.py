"""KeyLookup: the idempotency keys of an actor's batch, looked up in one trip.

A command that carries a ``Ticket`` is handled only if its scope has no stored answer;
the owning actor asks for the stored answers of a whole batch at once, so that a
busy mailbox pays one trip to the ledger per batch, not one per command.

A command alone in its batch may skip that trip: the record's id is derived from its
scope, so storing a second one is refused at commit, and the refusal shows the key
was answered before (the actor then undoes its change by rehydrating and goes again,
looking). After such a refusal keys are looked up first for a while, so that a client
retrying a run of requests costs one rehydration, not one each. A command handled
without looking that stored no answer (refused, or a reply not kept) gets its key's
stored answer, if any, as if it had looked first: refusals change nothing, so that
order is safe.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import trio

from atp.actors._context import LedgerReads
from atp.actors._idempotency import IdempotencyGate, StoredAnswer, Ticket
from atp.domain import IdempotencyRecord
from atp.errors import AtpError

__all__ = ["Answered", "KeyLookup"]

# What a key answered before: the stored answer, or the error that a reuse gets.
Answered = StoredAnswer | AtpError

_LOOK_AFTER_CONFLICT = 10.0  # seconds


def _ticket_of(command: object) -> Ticket | None:
    """The command's idempotency ticket, if it carries one."""
    ticket = getattr(command, "ticket", None)
    return ticket if isinstance(ticket, Ticket) else None


class KeyLookup:
    """One actor's side of the idempotency gate."""

    def __init__(self, gate: IdempotencyGate, ledger: LedgerReads) -> None:
        self._gate = gate
        self._ledger = ledger
        self._look_until = -math.inf

    def may_skip(self) -> bool:
        """Whether a lone command may be handled before its key is looked up."""
        return trio.current_time() >= self._look_until

    def conflicted(self) -> None:
        """A commit was refused: look keys up first for a while."""
        self._look_until = trio.current_time() + _LOOK_AFTER_CONFLICT

    async def answered(self, commands: Sequence[object]) -> dict[int, Answered]:
        """By position in ``commands``: the stored answer (or the conflict) of each whose
        scope was answered before, in one trip to the ledger."""
        tickets = {i: t for i, c in enumerate(commands) if (t := _ticket_of(c)) is not None}
        # Known unanswered: a session command lent on, a long poll's next ask.
        tickets = {i: t for i, t in tickets.items() if not self._gate.unanswered(t)}
        if not tickets:
            return {}
        records = await self._ledger.get_many(
            IdempotencyRecord, [t.record_id for t in tickets.values()]
        )
        answered: dict[int, Answered] = {}
        for i, ticket in tickets.items():
            record = records.get(ticket.record_id)
            self._gate.looked_up(ticket, record)
            if record is not None:
                try:
                    answered[i] = self._gate.replay_of(ticket, record)
                except AtpError as exc:
                    answered[i] = exc
        return answered

    async def unrecorded(
        self, commands: Sequence[object], recorded: set[str]
    ) -> dict[int, Answered]:
        """For commands handled without a lookup whose answer was not ``recorded`` (they
        were refused, or their reply is not kept): by position, the stored answer of
        their key, if any, as if they had looked first."""
        positions = [
            i
            for i, command in enumerate(commands)
            if (ticket := _ticket_of(command)) is not None and ticket.scope not in recorded
        ]
        if not positions:
            return {}
        found = await self.answered([commands[i] for i in positions])
        return {positions[j]: answer for j, answer in found.items()}

    def recorded(self, records: Sequence[IdempotencyRecord]) -> set[str]:
        """Tell the gate of the records a batch committed; return their scopes."""
        for record in records:
            self._gate.recorded(record.scope)
        return {record.scope for record in records}
