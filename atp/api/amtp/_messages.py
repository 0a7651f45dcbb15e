"""``POST /v1/messages``: a send (``atp.api.amtp._message_reads`` reads them back).

A send is a local agent's, with its key, as its own address; or another domain's
gateway's, signed by it (``atp.federation``), for this domain's recipients only (no
open relay). Every local recipient is sent an ordinary message (``atp.amtp.wrap``),
each under its own idempotency scope, so a retried send queues nobody twice; the
recipients at each other domain go together by one relay (``AmtpRelay``). The
envelope (``AmtpEnvelope``) then keeps the AMTP message and what carries it to whom,
starts the relays in its commit, and its answer is kept for the message's
``idempotency_key`` (else its ``message_id``) forever. An unknown local recipient
refuses the whole message (``AGENT_UNKNOWN``) before anything is queued.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Sequence
from typing import Any

import trio
from quart import Blueprint, Response, request

from atp.actors import Principal, Ticket
from atp.actors.commands import RecordEnvelope, Reply, SendMessage
from atp.actors.relay_commands import WakeRelay
from atp.amtp import (
    Address,
    AgentUnknown,
    AmtpError,
    AmtpMessage,
    AuthenticationFailed,
    canonical_address,
    parse_message,
    wrap,
)
from atp.api._requests import answer_once, bearer_token, carrier, local_agent
from atp.api.amtp._edge import (
    AccessDenied,
    address_of,
    agent_caller,
    amtp_route,
    answer,
    parse_body,
    read_body,
)
from atp.api.amtp._schemas import check_payload_schemas
from atp.api.amtp._workflows import record_answer, start_workflow, step_message
from atp.domain import (
    Agent,
    AmtpEnvelope,
    EnvelopeRecipient,
    relay_id,
    remote_account_id,
    remote_agent_id,
)
from atp.errors import AtpError, MessageIdTaken
from atp.federation import Sender
from atp.wire import check_payload

__all__ = ["accept", "blueprint"]

blueprint = Blueprint("amtp_messages", __name__)

_SEND_SCOPE = "POST /v1/messages"


class _RelayDenied(AmtpError):
    status, code, default = 403, "RELAY_DENIED", "this gateway relays for no other domain"


@blueprint.post("/v1/messages")
@amtp_route
async def send() -> Response:
    """A local agent's send (its key), or another domain's gateway's (its signature)."""
    rt = carrier()
    local = bearer_token() is not None
    sender_agent = (await agent_caller())[1] if local else None
    raw = await read_body()
    body = parse_body(raw)
    message = parse_message(body, rt.now())
    if sender_agent is not None:
        principal = _sender_principal(sender_agent, message)
        authenticated = True
        message = await start_workflow(principal, message)  # if it asks for one
    else:
        principal, authenticated = await _gateway(message, raw)
        if not authenticated:  # taken under the operator's policy: say so to recipients
            message.document["sender_authenticated"] = False
    step = await record_answer(message)  # an answer to one of this gateway's workflows
    reply = await accept(principal, message, body, local=local, authenticated=authenticated)
    if step is not None:  # the workflow goes on: its next message, from its initiator
        initiator, following = step_message(step, rt.now())
        await accept(initiator, following, following.document, local=True, authenticated=True)
    return answer(reply.body, reply.status)


async def accept(
    principal: Principal,
    message: AmtpMessage,
    body: Any,
    *,
    local: bool,
    authenticated: bool,
) -> Reply:
    """Queue ``message`` for its local recipients and relay it to the others, once per
    idempotency key (``body`` is the request it came in, for its digest)."""
    rt = carrier()
    payload = wrap(message)
    check_payload(payload)  # within the carrier's payload budget
    routes = await _routes(message.recipients, relaying=local)
    domain = rt.settings.domain
    agents = [(address_of(agent, domain), agent) for _, agent in routes if agent is not None]
    accounts = [agent.account_id for _, agent in agents]
    if local:  # the sender's registry too: its remote recipients are checked here first
        accounts.insert(0, principal.account_id)
    await check_payload_schemas(message.document, accounts, agents)
    key = message.idempotency_key or message.message_id

    async def build(ticket: Ticket) -> RecordEnvelope:
        stored = await rt.gate.committed(ticket)
        if stored is not None:  # answered before: its envelope's actor replays the answer
            first = json.loads(stored.encoded)["message_id"]
            return RecordEnvelope(first, principal.id, principal.account_id, {}, (), ticket)
        envelope_id = AmtpEnvelope.create_id(message.message_id)
        if await rt.aggregate(AmtpEnvelope, envelope_id) is not None:
            raise MessageIdTaken()
        queued = await _queue(principal, message, payload, routes, key, body)
        return RecordEnvelope(
            message.message_id,
            principal.id,
            principal.account_id,
            message.document,
            queued,
            ticket,
            authenticated,
        )

    reply = await answer_once(principal, _SEND_SCOPE, key, body, build, two_phase=True)
    await _wake_relays(reply.body["message_id"], routes)
    return reply


def _sender_principal(agent: Agent, message: AmtpMessage) -> Principal:
    """The sending agent, if the message is sent as it.

    Raises:
        AccessDenied: the message names another sender.
    """
    own = address_of(agent, carrier().settings.domain)
    if message.sender.canonical != canonical_address(own):
        raise AccessDenied(f"this key sends as {own}", sender=str(message.sender))
    message.document["sender"] = own  # as the carrier writes it
    return Principal("agent", agent.account_id, agent.agent_id)


async def _gateway(message: AmtpMessage, raw: bytes) -> tuple[Principal, bool]:
    """The sender of a message another gateway relays here, and whether its gateway
    signed it (else its domain may send unsigned).

    Raises:
        AuthenticationFailed: not signed by the gateway of the sender's domain (nor
            from a domain allowed to send unsigned), or a sender of this domain.
    """
    rt = carrier()
    domain = message.sender.domain
    federation = rt.federation
    if domain == rt.settings.domain or federation is None:
        raise AuthenticationFailed("a sender of this domain sends with its agent's key")
    url = f"{request.scheme}://{request.host}{request.path}"
    verdict = await federation.authenticate(domain, "POST", url, request.headers.items(), raw)
    if verdict is Sender.REFUSED:
        raise AuthenticationFailed(f"the request is not signed by the gateway of {domain}")
    sender = str(message.sender).lower()  # stored ids derive from it: keep its form
    principal = Principal("agent", remote_account_id(domain), remote_agent_id(sender))
    return principal, verdict is Sender.SIGNED


async def _routes(
    recipients: Sequence[Address], *, relaying: bool
) -> list[tuple[Address, Agent | None]]:
    """Each recipient with its local agent (None: another domain's, to relay).

    Raises:
        AgentUnknown: a recipient of this domain that no active agent holds.
        _RelayDenied: another domain's recipient in a message another gateway relayed.
    """
    domain = carrier().settings.domain
    found: list[tuple[Address, Agent | None]] = []
    for address in recipients:
        agent = None
        if address.domain == domain:
            agent = await local_agent(address.local)
            if agent is None:
                raise AgentUnknown(f"no agent {address} at this gateway", address=str(address))
        elif not relaying:
            raise _RelayDenied(f"this gateway serves {domain} only", address=str(address))
        found.append((address, agent))
    return found


async def _queue(
    principal: Principal,
    message: AmtpMessage,
    payload: dict[str, Any],
    routes: list[tuple[Address, Agent | None]],
    key: str,
    body: Any,
) -> tuple[EnvelopeRecipient, ...]:
    """Send each local recipient its message, side by side, each under its own scope;
    the others go by their domain's relay."""
    assert principal.agent_id is not None
    sender_agent_id = principal.agent_id
    domain = carrier().settings.domain
    results: list[EnvelopeRecipient | None] = [None] * len(routes)

    async def one(index: int, address: Address, agent: Agent) -> None:
        async def build(ticket: Ticket) -> SendMessage:
            return SendMessage(
                agent.agent_id, sender_agent_id, principal.account_id, payload, ticket
            )

        scope = f"{_SEND_SCOPE} to {str(address).lower()}"  # a stored scope: keep its form
        try:
            reply = await answer_once(principal, scope, key, body, build)
        except AtpError as error:
            if error.status >= 500:
                raise  # not the recipient's refusal: the send as a whole is retried
            results[index] = _recipient(str(address), error=(error.code.upper(), error.message))
            return
        results[index] = _recipient(
            address_of(agent, domain),
            message_id=reply.body["message"]["id"],
            agent=agent,
        )

    async with trio.open_nursery() as nursery:
        for index, (address, agent) in enumerate(routes):
            if agent is None:
                relay = relay_id(message.message_id, address.domain)
                results[index] = _recipient(str(address), relay=relay)
            else:
                nursery.start_soon(one, index, address, agent)
    return tuple(r for r in results if r is not None)


def _recipient(
    address: str,
    *,
    message_id: str | None = None,
    agent: Agent | None = None,
    relay: str | None = None,
    error: tuple[str, str] | None = None,
) -> EnvelopeRecipient:
    return EnvelopeRecipient(
        address=address,
        message_id=message_id,
        agent_id=None if agent is None else agent.agent_id,
        account_id=None if agent is None else agent.account_id,
        relay_id=relay,
        error_code=None if error is None else error[0],
        error_message=None if error is None else error[1],
    )


async def _wake_relays(message_id: str, routes: list[tuple[Address, Agent | None]]) -> None:
    """Start the relays of the message (their actors attempt them at once); one not
    started now is started by the sweep."""
    rt = carrier()
    for domain in dict.fromkeys(a.domain for a, agent in routes if agent is None):
        with contextlib.suppress(AtpError):
            await rt.ask(WakeRelay(relay_id(message_id, domain)))
