"""Mail from the gateway itself to a local agent: a relay's ``delivery_failure``
report, a workflow's result.

It comes from ``<gateway id>@<domain>`` (an id derived from the domain, which no agent
of this carrier has), as an AMTP message in the recipient's inbox, and is sent once
per ``key``: a report made again after a crash is the first one's replay.
"""

from __future__ import annotations

from typing import Any

from atp.actors._context import ActorContext
from atp.actors._idempotency import IdempotencyGate, request_hash
from atp.actors.commands import SendMessage
from atp.amtp import wrap_document
from atp.domain import remote_account_id, remote_agent_id

__all__ = ["gateway_address", "mail_from_gateway"]

_ROUTE = "AMTP gateway mail"


def _gateway_agent(domain: str) -> str:
    return remote_agent_id(f"gateway@{domain}")


def gateway_address(domain: str) -> str:
    """The gateway's own address."""
    return f"{_gateway_agent(domain)}@{domain}"


async def mail_from_gateway(
    context: ActorContext, recipient_agent_id: str, document: dict[str, Any], key: str
) -> None:
    """Put the AMTP message ``document`` in ``recipient_agent_id``'s inbox, once per
    ``key``."""
    domain = context.settings.domain
    agent, account = _gateway_agent(domain), remote_account_id(domain)
    scope = IdempotencyGate.scope(account, "agent", agent, _ROUTE, key)
    ticket = await context.gate.enter(scope, request_hash({"key": key}), wait=True)
    try:
        payload = wrap_document(document)
        await context.ask(SendMessage(recipient_agent_id, agent, account, payload, ticket))
    finally:
        context.gate.leave(ticket)
