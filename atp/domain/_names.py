"""AgentName: an agent's name in the carrier, the local part of ``name@ATP_DOMAIN``.

A name is held by one agent. The aggregate's id is derived from the name, so the
store's optimistic concurrency already refuses a second ``Claimed`` of one name, and
the per-name actor that writes it (``atp.actors.NamesActor``) serialises every claim of
it: two accounts asking for one name meet there, not in a failed commit.

A name is claimed before its agent's registration is committed (by another actor, the
account's). A registration that then fails (the account's plan is full) leaves a claim
whose agent never came to be; it may be claimed again once it is older than any
registration takes (``ORPHANED_AFTER``).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from atp.domain._ids import AGENT_ID_PREFIX, aggregate_id
from atp.errors import InvalidRequest

__all__ = ["ORPHANED_AFTER", "AgentName", "check_name"]

ORPHANED_AFTER = timedelta(seconds=60)
# An AMTP local part the carrier takes: lower case letters and digits, with dots,
# hyphens and underscores inside; at most 64 characters.
_NAME = re.compile(r"[a-z0-9](?:[a-z0-9._-]{0,62}[a-z0-9])?")


def check_name(name: object) -> str:
    """``name`` as the carrier keeps it (lower case).

    Raises:
        InvalidRequest: not a name the carrier takes.
    """
    kept = name.strip().lower() if isinstance(name, str) else ""
    if not _NAME.fullmatch(kept):
        raise InvalidRequest(
            "name must be 1 to 64 letters, digits, '.', '-' or '_', starting and ending"
            " with a letter or digit"
        )
    if kept.startswith(AGENT_ID_PREFIX):  # <agent id>@domain addresses an unnamed agent
        raise InvalidRequest(f"a name may not start with {AGENT_ID_PREFIX!r}")
    return kept


class AgentName(Aggregate):
    """Which agent holds a name."""

    class Claimed(Aggregate.Created):
        name: str
        agent_id: str
        account_id: str
        at: datetime

    class Reclaimed(Aggregate.Event):
        """Claimed by another agent: its holder was never registered (an orphaned claim)."""

        agent_id: str
        account_id: str
        at: datetime

    @staticmethod
    def create_id(name: str) -> UUID:
        return aggregate_id(f"name:{name}")

    @event(Claimed)
    def __init__(self, name: str, agent_id: str, account_id: str, at: datetime) -> None:
        self.name = name
        self.agent_id = agent_id
        self.account_id = account_id
        self.claimed_at = at

    def orphaned(self, agent_registered: bool, now: datetime) -> bool:
        """Whether another agent may claim the name: its holder never came to be, long
        after its claim."""
        return not agent_registered and now - self.claimed_at >= ORPHANED_AFTER

    @event(Reclaimed)
    def reclaim(self, agent_id: str, account_id: str, at: datetime) -> None:
        self.agent_id = agent_id
        self.account_id = account_id
        self.claimed_at = at
