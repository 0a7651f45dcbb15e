"""Reading AMTP messages: ``GET /v1/messages`` (the caller's, filtered),
``GET /v1/messages/:id`` (the message as accepted) and ``/status`` (each recipient's
delivery: its local message's, or its relay's).

A message is the business of its sender and its local recipients, and of their
accounts: anyone else is answered as if it did not exist.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from quart import Blueprint, Response, request

from atp.amtp import (
    InvalidMessageFormat,
    MessageNotFound,
    message_status,
    parse_address,
    recipient_status,
    relayed_status,
    utc_timestamp,
)
from atp.api._requests import carrier, whole_number
from atp.api.amtp._edge import amtp_route, answer, reader
from atp.domain import AmtpEnvelope, AmtpRelay
from atp.errors import AtpError
from atp.projections import AMTP_STATUS_FILTERS
from atp.wire import iso

__all__ = ["blueprint", "number", "since"]

blueprint = Blueprint("amtp_message_reads", __name__)


@blueprint.get("/v1/messages/<message_id>")
@amtp_route
async def show(message_id: str) -> Response:
    envelope = await _visible_envelope(message_id)
    return answer(envelope.document)


@blueprint.get("/v1/messages/<message_id>/status")
@amtp_route
async def status(message_id: str) -> Response:
    envelope = await _visible_envelope(message_id)
    (shown,) = await _statuses([envelope])
    return answer(shown)


@blueprint.get("/v1/messages")
@amtp_route
async def list_messages() -> Response:
    """The AMTP messages the caller sent or received (an account: its agents'), newest
    first, filtered by ``status``, ``sender``, ``recipient`` and ``since``."""
    principal = await reader()
    args = request.args
    limit = number(args.get("limit", "100"), 1, 1000, "limit")
    offset = number(args.get("offset", "0"), 0, 10**9, "offset")
    state = args.get("status")
    if state is not None and state not in AMTP_STATUS_FILTERS:
        raise InvalidMessageFormat(f"status must be one of {', '.join(AMTP_STATUS_FILTERS)}")
    viewer = ("agent", principal.agent_id) if principal.agent_id else ("account", principal.id)
    rt = carrier()
    views = await rt.views()
    ids, total = await views.amtp.messages(
        viewer,
        sender=_address_filter(args.get("sender"), "sender"),
        recipient=_address_filter(args.get("recipient"), "recipient"),
        since=since(args.get("since")),
        status=state,
        limit=limit,
        offset=offset,
    )
    envelopes = await rt.aggregates(AmtpEnvelope, [AmtpEnvelope.create_id(i) for i in ids])
    statuses = await _statuses(envelopes)
    messages = [
        {**e.document, "status": s["status"]} for e, s in zip(envelopes, statuses, strict=True)
    ]
    return answer({"messages": messages, "total": total, "limit": limit, "offset": offset})


async def _visible_envelope(message_id: str) -> AmtpEnvelope:
    """The AMTP message, if the caller sent or received it (or is their account).

    Raises:
        MessageNotFound: no such message, or not the caller's to see.
    """
    principal = await reader()
    rt = carrier()
    envelope = None
    if len(message_id) == 36:  # a UUID, as every AMTP message id
        envelope = await rt.aggregate(AmtpEnvelope, AmtpEnvelope.create_id(message_id.lower()))
    if envelope is None:
        raise MessageNotFound()
    if principal.agent_id is not None:
        parties = {envelope.sender_agent_id, *(r["agent_id"] for r in envelope.recipients)}
        visible = principal.agent_id in parties
    else:
        accounts = {envelope.sender_account_id, *(r["account_id"] for r in envelope.recipients)}
        visible = principal.account_id in accounts
    if not visible:
        raise MessageNotFound()
    return envelope


async def _statuses(envelopes: Sequence[AmtpEnvelope]) -> list[dict[str, Any]]:
    """Each message's status, from its local messages' rows and its relays, read for
    all of them at once (a page of a hundred messages is two reads, not hundreds)."""
    rt = carrier()
    recipients = [r for e in envelopes for r in e.recipients]
    local_ids = [r["message_id"] for r in recipients if r["message_id"] is not None]
    relay_ids = [AmtpRelay.create_id(r["relay_id"]) for r in recipients if r["relay_id"]]
    documents = await (await rt.views()).amtp.message_documents(local_ids)
    relays = {r.relay_id: r for r in await rt.aggregates(AmtpRelay, relay_ids)}
    statuses = []
    for envelope in envelopes:
        shown = []
        for r in envelope.recipients:
            relay = r["relay_id"]
            if relay is not None:
                shown.append(_relayed(r["address"], relays[relay]))
                continue
            local = None if r["message_id"] is None else documents.get(r["message_id"])
            shown.append(
                recipient_status(r["address"], local, (r["error_code"], r["error_message"]))
            )
        created_at = envelope.document["timestamp"]
        statuses.append(message_status(envelope.message_id, created_at, shown))
    return statuses


def _relayed(address: str, relay: AmtpRelay) -> dict[str, Any]:
    return relayed_status(
        address,
        relay.state,
        relay.attempts,
        iso(relay.last_attempt_at),
        iso(relay.due_at) if relay.attempts else None,
        iso(relay.ended_at),
        relay.reason,
    )


def number(value: str, low: int, high: int, name: str) -> int:
    try:
        return whole_number(value, low, high)
    except AtpError:
        raise InvalidMessageFormat(f"{name} must be a whole number in [{low}, {high}]") from None


def _address_filter(value: str | None, name: str) -> str | None:
    if value is None:
        return None
    address = parse_address(value)
    if address is None:
        raise InvalidMessageFormat(f"{name} must be an address local@domain")
    return str(address).lower()


def since(value: str | None) -> str | None:
    return None if value is None else utc_timestamp(value, "since")
