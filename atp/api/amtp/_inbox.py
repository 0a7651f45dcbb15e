"""An agent's AMTP inbox (§12.1.5): ``GET /v1/inbox/:recipient`` lists its open
messages, ``DELETE /v1/inbox/:recipient/:message_id`` acknowledges one.

The inbox is the agent's own, with its key. It lists every open message of the agent
(a session's turns aside), oldest first: an AMTP message as it was sent, a message sent
through the native API as an AMTP message from its sender's address whose payload is
the A2A message. ``unread`` messages were never handed out; ``read`` ones were (by
an inbox claim or a push) and wait for their answer. Acknowledging records the ACK
``completed``, after which the message leaves the inbox; acknowledging it again
answers as the first time did.
"""

from __future__ import annotations

from typing import Any

from quart import Blueprint, Response, request

from atp.actors import Principal, Ticket
from atp.actors.commands import RecordAck, TakeMessage
from atp.amtp import (
    AMTP_VERSION,
    InvalidMessageFormat,
    MessageNotFound,
    canonical_address,
    parse_address,
    unwrap,
)
from atp.api._requests import answer_once, carrier
from atp.api._scopes import route_scope
from atp.api.amtp._edge import AccessDenied, address_of, agent_caller, amtp_route, answer
from atp.api.amtp._message_reads import number, since
from atp.domain import AckStatus, Agent
from atp.errors import AtpError

__all__ = ["blueprint"]

blueprint = Blueprint("amtp_inbox", __name__)

# A message named for acknowledgment is leased this long, to record the ACK on.
_TAKE_LEASE_SECONDS = 60


@blueprint.get("/v1/inbox/<recipient>")
@amtp_route
async def inbox(recipient: str) -> Response:
    _, agent = await _owner(recipient)
    args = request.args
    limit = number(args.get("limit", "100"), 1, 1000, "limit")
    offset = number(args.get("offset", "0"), 0, 10**9, "offset")
    state = args.get("status")
    if state not in (None, "unread", "read"):
        raise InvalidMessageFormat("status must be unread or read")
    rt = carrier()
    rt.liveness.seen(agent.agent_id)
    views = await rt.views()
    documents, more = await views.amtp.inbox(
        agent.agent_id,
        since=since(args.get("since")),
        read=None if state is None else state == "read",
        limit=limit,
        offset=offset,
    )
    address = address_of(agent, rt.settings.domain)
    messages = [await _as_amtp(document, address) for document in documents]
    body = {
        "recipient": address,
        "messages": messages,
        "message_count": len(messages),
        "count": len(messages),  # Agentry's name for it
        "has_more": more,
    }
    return answer(body)


@blueprint.delete("/v1/inbox/<recipient>/<message_id>")
@amtp_route
async def acknowledge(recipient: str, message_id: str) -> Response:
    principal, agent = await _owner(recipient)
    rt = carrier()
    rt.liveness.seen(agent.agent_id)
    local_id = message_id
    if not message_id.startswith("msg_"):  # an AMTP message id: the local message is ours
        views = await rt.views()
        local_id = await views.amtp.local_message(message_id.lower(), agent.agent_id) or ""
    if not local_id:
        raise MessageNotFound("message not found or already acknowledged")

    async def build(ticket: Ticket) -> RecordAck:
        taken = await rt.ask(TakeMessage(agent.agent_id, local_id, _TAKE_LEASE_SECONDS))
        delivery_id = taken.body["id"]
        return RecordAck(agent.agent_id, delivery_id, AckStatus.COMPLETED, None, ticket)

    try:
        reply = await answer_once(principal, route_scope(), local_id, {}, build)
    except AtpError as error:
        if error.status >= 500:
            raise
        raise MessageNotFound("message not found or already acknowledged") from None
    acked = reply.body["ack"]
    return answer(
        {
            "message_id": message_id,
            "status": "acknowledged",
            "timestamp": acked["created_at"],
            "recipient": address_of(agent, rt.settings.domain),
            "message": "Message acknowledged successfully",
        }
    )


async def _owner(recipient: str) -> tuple[Principal, Agent]:
    """The calling agent, if ``recipient`` is its address.

    Raises:
        AccessDenied: another agent's inbox.
    """
    principal, agent = await agent_caller()
    address = parse_address(recipient)
    mine = address_of(agent, carrier().settings.domain)
    if address is None or address.canonical != canonical_address(mine):
        raise AccessDenied("an agent reads only its own inbox", agent=recipient)
    return principal, agent


async def _as_amtp(document: dict[str, Any], recipient: str) -> dict[str, Any]:
    """An open message as an AMTP inbox shows it."""
    envelope = document["message"]
    carried = unwrap(envelope["payload"])
    if carried is None:  # sent through the native API: the A2A message is the payload
        carried = {
            "version": AMTP_VERSION,
            "message_id": envelope["id"],
            "timestamp": envelope["created_at"],
            "sender": await _sender_address(envelope["from"]),
            "recipients": [recipient],
            "payload": envelope["payload"],
        }
    status = "unread" if document["carrier_status"] == "queued" else "read"
    return {**carried, "status": status, "atp_message_id": envelope["id"]}


async def _sender_address(native: str) -> str:
    rt = carrier()
    agent_id = native.rpartition("/")[2]
    sender = await rt.identities.agent(agent_id)
    if sender is None:
        return f"{agent_id}@{rt.settings.domain}"
    return address_of(sender, rt.settings.domain)
