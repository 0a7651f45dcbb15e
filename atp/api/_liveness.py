"""An agent's liveness as the API shows it: when it was last seen, and whether it is
reachable now (``atp.actors.Liveness``)."""

from __future__ import annotations

from typing import Any

from atp.actors import Carrier
from atp.wire import iso

__all__ = ["liveness_document"]


async def liveness_document(rt: Carrier, agent_id: str) -> dict[str, Any]:
    """``{"last_seen_at", "reachable"}`` of ``agent_id``."""
    agent = await rt.identities.agent(agent_id)
    webhook = agent is not None and agent.webhook_active
    return {
        "last_seen_at": iso(rt.liveness.last_seen(agent_id)),
        "reachable": rt.liveness.reachable(agent_id, webhook),
    }
