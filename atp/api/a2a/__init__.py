"""ATP as every agent's A2A 1.0 server: agent cards, and the JSON-RPC and HTTP+JSON
bindings on one endpoint for all agents (the tenant names the agent called).

Each A2A task is one ATP message from the calling agent to the tenant; its state is
read off the delivery and the recipient's ACKs (``atp.wire.task_document``).
docs/a2a.md has the mapping.
"""

from atp.api.a2a import _card, _jsonrpc, _rest
from atp.api.a2a._card import card_url, public_base
from atp.api.a2a._tasks import SEND_SCOPE

__all__ = ["BLUEPRINTS", "SEND_SCOPE", "card_url", "public_base"]

BLUEPRINTS = (_card.blueprint, _jsonrpc.blueprint, _rest.blueprint)
