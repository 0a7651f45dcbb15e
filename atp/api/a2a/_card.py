"""Every agent's A2A agent card: the carrier is each agent's A2A server.

One endpoint serves all agents; an agent's card names it with ``tenant`` = the agent's
id, on both bindings (JSON-RPC at ``{base}/a2a``, HTTP+JSON under
``{base}/a2a/{tenant}/``). The card lives under ``{base}/a2a/{agent id}/``, at the
well-known name, so that a client given ``{base}/a2a/{agent id}`` as the agent's URL
finds it as A2A clients do. It is public (A2A §8.2); calls take the calling agent's
own ATP key as a bearer token, which the card declares in both of its security fields
(clients attach credentials only when both are present).
"""

from __future__ import annotations

from typing import Any

from quart import Blueprint, request

import atp
from atp.api._requests import carrier
from atp.api.a2a._errors import UnknownTenant, rest_error
from atp.domain import ADDRESS_PREFIX

__all__ = ["CARD_PATH", "agent_card", "blueprint", "card_url", "public_base"]

blueprint = Blueprint("a2a_card", __name__)

CARD_PATH = "/.well-known/agent-card.json"
_SCHEME = "atpAgentKey"
_MODES = ["text/plain", "application/json"]


def public_base() -> str:
    """The carrier's public URL: ``ATP_PUBLIC_URL``, else the scheme and host this
    request came in on."""
    configured = carrier().settings.public_url
    return configured or request.host_url.rstrip("/")


def card_url(agent_id: str) -> str:
    """Where ``agent_id``'s agent card is served."""
    return f"{public_base()}/a2a/{agent_id}{CARD_PATH}"


def agent_card(
    agent_id: str, display_name: str | None, description: str | None, base: str
) -> dict[str, Any]:
    """The agent card (A2A 1.0 ProtoJSON) of an active agent."""
    url = f"{base}/a2a"
    address = ADDRESS_PREFIX + agent_id
    return {
        "name": display_name or agent_id,
        "description": description or f"The agent {address}, reached through an ATP carrier.",
        "version": atp.__version__,
        "supportedInterfaces": [
            {"url": url, "protocolBinding": binding, "protocolVersion": "1.0", "tenant": agent_id}
            for binding in ("JSONRPC", "HTTP+JSON")
        ],
        "capabilities": {"streaming": True, "pushNotifications": True, "extendedAgentCard": False},
        "securitySchemes": {
            _SCHEME: {
                "httpAuthSecurityScheme": {
                    "scheme": "Bearer",
                    "description": "The calling agent's own ATP agent key (agk_...).",
                }
            }
        },
        "securityRequirements": [{"schemes": {_SCHEME: {"list": []}}}],
        "defaultInputModes": _MODES,
        "defaultOutputModes": _MODES,
        "skills": [
            {
                "id": "atp-store-and-forward",
                "name": "Durable delivery",
                "description": (
                    "Messages are stored and delivered when the agent next claims them;"
                    " the task follows the agent's ACKs (accepted, completed, failed,"
                    " rejected)."
                ),
                "tags": ["atp", "store-and-forward"],
            }
        ],
    }


@blueprint.get("/a2a/<agent_id>" + CARD_PATH)
async def show_card(agent_id: str) -> tuple[dict[str, Any], int]:
    views = await carrier().views()
    agent = await views.agent(agent_id)
    if agent is None or agent.status != "active":
        return rest_error(UnknownTenant()), 404
    return agent_card(agent.id, agent.display_name, agent.description, public_base()), 200
