"""Where the carrier keeps when each agent was last seen (``atp_agent_liveness``).

Not a view: nothing in the ledger says when an agent polled, and recording every claim
there would cost an event per claim. A restart reads it back, so "not seen for three
days" survives one.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from atp.ledger import Bridge
from atp.projections._store import ViewStore

__all__ = ["LivenessStore"]


class LivenessStore:
    """Reads and writes the last-seen times."""

    def __init__(self, store: ViewStore, bridge: Bridge) -> None:
        self.store = store
        self.bridge = bridge

    async def load(self) -> dict[str, datetime]:
        rows = await self.bridge.read(
            self.store.query, "SELECT agent_id, last_seen_at FROM atp_agent_liveness"
        )
        return {str(a): datetime.fromisoformat(str(at)) for a, at in rows}

    async def save(self, seen: Sequence[tuple[str, datetime]]) -> None:
        statements = [
            (
                "INSERT INTO atp_agent_liveness (agent_id, last_seen_at) VALUES (?, ?)"
                " ON CONFLICT (agent_id) DO UPDATE SET last_seen_at = excluded.last_seen_at",
                (agent_id, at.isoformat()),
            )
            for agent_id, at in seen
        ]
        await self.bridge.run(self.store.write, statements)
