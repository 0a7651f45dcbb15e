"""``POST /api/messages`` (direct send) and ``GET /api/messages/:id`` (status)."""

from __future__ import annotations

from typing import Any

from quart import Blueprint

from atp.actors import Ticket
from atp.actors.commands import RecordPayloadRead, SendMessage
from atp.api._as_of import as_of_position, message_as_of
from atp.api._liveness import liveness_document
from atp.api._requests import (
    Answer,
    authenticate,
    carrier,
    idempotent,
    read_params,
    read_send,
    resolve_recipient,
)
from atp.api.amtp import is_amtp_send, send_native
from atp.errors import NotFound
from atp.wire import message_status as status_of
from atp.wire import viewer_document

__all__ = ["blueprint"]

blueprint = Blueprint("messages", __name__)


@blueprint.post("/api/messages")
async def send_message() -> Answer:
    principal = await authenticate("agent")
    assert principal.agent_id is not None
    params = await read_params()
    if is_amtp_send(params, carrier().settings.domain):
        return await send_native(principal, params)  # many recipients, or another domain's
    to = read_send(params)
    sender_agent_id = principal.agent_id

    async def build(ticket: Ticket) -> SendMessage:
        recipient_agent_id = await resolve_recipient(to)
        return SendMessage(
            recipient_agent_id, sender_agent_id, principal.account_id, params["payload"], ticket
        )

    return await idempotent(principal, params, build, two_phase=True)


@blueprint.get("/api/messages/<message_id>")
async def message_status(message_id: str) -> dict[str, Any]:
    """Visible to the sender and recipient agents and to their accounts (contract §1.8),
    and to their accounts' auditor keys, whose every read is recorded in the ledger
    before the payload goes out."""
    principal = await authenticate("account", "agent", "auditor")
    params = await read_params()
    rt = carrier()
    views = await rt.views()
    row = await views.message(message_id)
    if row is None:
        raise NotFound("message")
    if principal.agent_id is not None:
        recipient_side = principal.agent_id == row.recipient_agent_id
        visible = recipient_side or principal.agent_id == row.sender_agent_id
    else:
        recipient_side = principal.account_id == row.recipient_account_id
        visible = recipient_side or principal.account_id == row.sender_account_id
    if not visible:
        raise NotFound("message")
    document = row.document
    if "as_of" in params:  # the message as it was then (docs/audit.md)
        position = await as_of_position(rt, params["as_of"])
        document = status_of(await message_as_of(rt, message_id, position))
    if principal.kind == "auditor":
        assert principal.key_id is not None
        await rt.ask(RecordPayloadRead(principal.account_id, principal.key_id, message_id))
    shown = viewer_document(document, recipient_side=recipient_side)
    if "as_of" in params:
        return shown  # history: not how its recipient stands now
    return {**shown, "recipient_liveness": await liveness_document(rt, row.recipient_agent_id)}
