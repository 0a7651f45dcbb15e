"""``POST /v1/messages`` (send), ``GET /v1/messages`` (list) and ``GET
/v1/messages/:id`` (the message, and ``/status``).

A send is an agent's, with its key, as its own address. Every local recipient is sent
an ordinary message (``atp.amtp.wrap``), each under its own idempotency scope, so a
retried send queues nobody twice; the envelope (``AmtpEnvelope``) then keeps the AMTP
message and what carries it to whom, and its answer is kept for the message's
``idempotency_key`` (else its ``message_id``) forever. An unknown local recipient
refuses the whole message (``AGENT_UNKNOWN``) before anything is queued.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import trio
from quart import Blueprint, Response, request

from atp.actors import Principal, Ticket
from atp.actors.commands import RecordEnvelope, SendMessage
from atp.amtp import (
    Address,
    AgentUnknown,
    AmtpMessage,
    InvalidMessageFormat,
    MessageNotFound,
    message_status,
    parse_address,
    parse_message,
    recipient_status,
    utc_timestamp,
    wrap,
)
from atp.api._requests import answer_once, carrier, local_agent, whole_number
from atp.api.amtp._edge import (
    AccessDenied,
    address_of,
    agent_caller,
    amtp_route,
    answer,
    read_json,
    reader,
)
from atp.domain import Agent, AmtpEnvelope, EnvelopeRecipient
from atp.errors import AtpError, MessageIdTaken
from atp.projections import AMTP_STATUS_FILTERS
from atp.wire import check_payload

__all__ = ["blueprint", "number", "since"]

blueprint = Blueprint("amtp_messages", __name__)

_SEND_SCOPE = "POST /v1/messages"
_NOT_FEDERATED = "RECIPIENT_UNAVAILABLE", "delivery to other domains is not served yet"


@blueprint.post("/v1/messages")
@amtp_route
async def send() -> Response:
    principal, agent = await agent_caller()
    body = await read_json()
    rt = carrier()
    message = parse_message(body, rt.now())
    own = address_of(agent, rt.settings.domain)
    if str(message.sender).lower() != own.lower():
        raise AccessDenied(f"this key sends as {own}", sender=str(message.sender))
    message.document["sender"] = own  # as the carrier writes it
    payload = wrap(message)
    check_payload(payload)  # within the carrier's payload budget
    recipients = await _local_agents(message.recipients)
    key = message.idempotency_key or message.message_id

    async def build(ticket: Ticket) -> RecordEnvelope:
        stored = await rt.gate.committed(ticket)
        if stored is not None:  # answered before: its envelope's actor replays the answer
            first = json.loads(stored.encoded)["message_id"]
            return RecordEnvelope(first, principal.id, principal.account_id, {}, (), ticket)
        envelope_id = AmtpEnvelope.create_id(message.message_id)
        if await rt.aggregate(AmtpEnvelope, envelope_id) is not None:
            raise MessageIdTaken()
        queued = await _queue(principal, message, payload, recipients, key)
        return RecordEnvelope(
            message.message_id, principal.id, principal.account_id, message.document, queued, ticket
        )

    reply = await answer_once(principal, _SEND_SCOPE, key, body, build, two_phase=True)
    return answer(reply.body, reply.status)


async def _local_agents(recipients: Sequence[Address]) -> list[tuple[Address, Agent | None]]:
    """Each recipient with its local agent (None: another domain's).

    Raises:
        AgentUnknown: a recipient of this domain that no active agent holds.
    """
    domain = carrier().settings.domain
    found: list[tuple[Address, Agent | None]] = []
    for address in recipients:
        agent = None
        if address.domain == domain:
            agent = await local_agent(address.local)
            if agent is None:
                raise AgentUnknown(f"no agent {address} at this gateway", address=str(address))
        found.append((address, agent))
    return found


async def _queue(
    principal: Principal,
    message: AmtpMessage,
    payload: dict[str, Any],
    recipients: list[tuple[Address, Agent | None]],
    key: str,
) -> tuple[EnvelopeRecipient, ...]:
    """Send each local recipient its message, side by side; each under its own scope."""
    assert principal.agent_id is not None
    sender_agent_id = principal.agent_id
    results: list[EnvelopeRecipient | None] = [None] * len(recipients)

    async def one(index: int, address: Address, agent: Agent) -> None:
        async def build(ticket: Ticket) -> SendMessage:
            return SendMessage(
                agent.agent_id, sender_agent_id, principal.account_id, payload, ticket
            )

        scope = f"{_SEND_SCOPE} to {str(address).lower()}"
        try:
            reply = await answer_once(principal, scope, key, {"message": message.document}, build)
        except AtpError as error:
            if error.status >= 500:
                raise  # not the recipient's refusal: the send as a whole is retried
            results[index] = _failed(address, error.code.upper(), error.message)
            return
        results[index] = EnvelopeRecipient(
            address=address_of(agent, carrier().settings.domain),
            message_id=reply.body["message"]["id"],
            agent_id=agent.agent_id,
            account_id=agent.account_id,
            error_code=None,
            error_message=None,
        )

    async with trio.open_nursery() as nursery:
        for index, (address, agent) in enumerate(recipients):
            if agent is None:
                results[index] = _failed(address, *_NOT_FEDERATED)
            else:
                nursery.start_soon(one, index, address, agent)
    return tuple(r for r in results if r is not None)


def _failed(address: Address, code: str, message: str) -> EnvelopeRecipient:
    return EnvelopeRecipient(
        address=str(address),
        message_id=None,
        agent_id=None,
        account_id=None,
        error_code=code,
        error_message=message,
    )


@blueprint.get("/v1/messages/<message_id>")
@amtp_route
async def show(message_id: str) -> Response:
    envelope = await _visible_envelope(message_id)
    return answer(envelope.document)


@blueprint.get("/v1/messages/<message_id>/status")
@amtp_route
async def status(message_id: str) -> Response:
    envelope = await _visible_envelope(message_id)
    return answer(await _status_of(envelope))


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
    messages = [{**e.document, "status": (await _status_of(e))["status"]} for e in envelopes]
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


async def _status_of(envelope: AmtpEnvelope) -> dict[str, Any]:
    views = await carrier().views()
    recipients = []
    for r in envelope.recipients:
        row = None if r["message_id"] is None else await views.message(r["message_id"])
        local = None if row is None else row.document
        recipients.append(
            recipient_status(r["address"], local, (r["error_code"], r["error_message"]))
        )
    created_at = envelope.document["timestamp"]
    return message_status(envelope.message_id, created_at, recipients)


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
