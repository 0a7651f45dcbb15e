"""The audit directory: what the records of an aggregate's later events need from its first.

An aggregate's later events name neither its wire id nor its parties (a lease names a
delivery, not the message's recipient). The directory keeps, per aggregate, what its
first event said, so that every record can name its aggregate, its actor and who may
see it. The follower keeps it in the store too, beside the records.
"""

from __future__ import annotations

import json
from uuid import UUID

import attrs

__all__ = ["CARRIER", "Directory", "Entry"]

CARRIER = "carrier"  # the actor of timers, retries and policy decisions


@attrs.define
class Entry:
    """What the directory knows of one aggregate: its wire id and who may see it."""

    kind: str  # account, agent, message, session, idempotency
    wire_id: str
    agents: tuple[str, ...] = ()  # agents whose business it is (sender first)
    accounts: tuple[str, ...] = ()
    session_id: str | None = None  # a message's session, or the session itself
    opening: str | None = None  # a session's opening message id
    answered: bool = False  # a session opening that its recipient ACKed

    def to_json(self) -> str:
        fields = [self.kind, self.wire_id, self.agents, self.accounts, self.session_id]
        return json.dumps([*fields, self.opening, self.answered])

    @classmethod
    def from_json(cls, text: str) -> Entry:
        kind, wire_id, agents, accounts, session_id, opening, answered = json.loads(text)
        return cls(kind, wire_id, tuple(agents), tuple(accounts), session_id, opening, answered)


class Directory:
    """Aggregate id -> :class:`Entry`, for the later events of an aggregate, which name
    neither its wire id nor its parties. An idempotency record has one event only: it
    is never kept. Most entries follow from an aggregate's first event, which the
    follower reads back from the ledger when it has forgotten one; what does not (a
    session opening's ACK) is :meth:`remember`-ed, to be kept in the store."""

    def __init__(self) -> None:
        self.entries: dict[UUID, Entry] = {}
        self.changed: dict[UUID, Entry] = {}

    def get(self, aggregate_id: UUID) -> Entry | None:
        return self.entries.get(aggregate_id)

    def add(self, aggregate_id: UUID, entry: Entry) -> None:
        if entry.kind != "idempotency":
            self.entries[aggregate_id] = entry

    def remember(self, aggregate_id: UUID, entry: Entry) -> None:
        """Add ``entry``, and list it for :meth:`take_changed` (the store keeps it)."""
        self.entries[aggregate_id] = entry
        self.changed[aggregate_id] = entry

    def take_changed(self) -> dict[UUID, Entry]:
        changed, self.changed = self.changed, {}
        return changed
