"""A native send (``POST /api/messages``) to another domain's address, or to several
recipients: an AMTP message from the sending agent, carried as any other.

``to`` names one address of another domain; or, instead of ``to`` (which the reference
contract holds to one string: a list there is ``recipient_required``), ``recipients``
lists 1 to 100 recipients, each an ``atp://agent/<id>``, a ``name@domain`` or an
address of another domain. The payload is
the A2A message as sent; it rides as the AMTP message's payload (``content-type:
application/a2a+json``), so a local recipient gets the A2A message itself (with
``metadata.amtp``) and a remote one an AMTP message it can read. The request's
``Idempotency-Key`` keys the message, as any send's; the answer is AMTP's send answer
(``202``), whose ``message_id`` ``GET /v1/messages/:id/status`` follows.
"""

from __future__ import annotations

import uuid
from typing import Any

from atp.actors import Principal
from atp.amtp import A2A_PAYLOAD, AMTP_VERSION, MAX_RECIPIENTS, AmtpError, parse_message
from atp.api._requests import Answer, carrier, idempotency_key, resolve_recipient
from atp.api.amtp._edge import address_of
from atp.api.amtp._messages import accept
from atp.domain import ADDRESS_PREFIX
from atp.errors import InvalidRequest, PayloadRequired, RecipientNotFound, RecipientRequired
from atp.wire import check_payload

__all__ = ["is_amtp_send", "send_native"]

_MESSAGE_IDS = uuid.UUID("c3e9d8a1-6f2b-4c7e-9a05-1d4b8e7f6a32")


def is_amtp_send(params: dict[str, Any], domain: str) -> bool:
    """Whether a native send asks for AMTP: ``recipients`` without ``to``, or ``to``
    another domain's address."""
    to = params.get("to")
    if to is None and "recipients" in params:
        return True
    return _remote(to, domain)


def _remote(to: object, domain: str) -> bool:
    if not isinstance(to, str) or to.startswith(ADDRESS_PREFIX) or "@" not in to:
        return False
    return to.strip().rpartition("@")[2].lower() != domain


async def send_native(principal: Principal, params: dict[str, Any]) -> Answer:
    """Send ``params`` (``to``, ``payload``) as an AMTP message from the calling agent.

    Raises:
        RecipientRequired, RecipientNotFound, PayloadRequired, InvalidA2AMessage,
        PayloadTooLarge, IdempotencyKeyRequired, InvalidRequest.
    """
    assert principal.agent_id is not None
    targets = params.get("recipients") if params.get("to") is None else [params["to"]]
    if not isinstance(targets, list) or not targets:
        raise RecipientRequired()
    if len(targets) > MAX_RECIPIENTS:
        raise InvalidRequest(f"recipients: at most {MAX_RECIPIENTS}")
    if "payload" not in params:
        raise PayloadRequired()
    check_payload(params["payload"])
    rt = carrier()
    domain = rt.settings.domain
    sender = await rt.identities.agent(principal.agent_id)
    assert sender is not None
    recipients = [await _address(target, domain) for target in targets]
    key = idempotency_key()
    body = {
        "version": AMTP_VERSION,
        "message_id": str(uuid.uuid5(_MESSAGE_IDS, f"{principal.agent_id}|{key}")),
        "idempotency_key": f"api:{key}",
        "sender": address_of(sender, domain),
        "recipients": recipients,
        "headers": {"content-type": A2A_PAYLOAD},
        "payload": params["payload"],
    }
    try:
        message = parse_message(body, rt.now())
        reply = await accept(principal, message, body, local=True, authenticated=True)
    except AmtpError as error:  # in the native API's words
        if error.code in ("AGENT_UNKNOWN", "INVALID_RECIPIENT"):
            raise RecipientNotFound() from None
        raise InvalidRequest(error.message) from None
    return reply.body, reply.status


async def _address(target: object, domain: str) -> str:
    """A recipient as an AMTP address: a local agent's own, or another domain's as is.

    Raises:
        RecipientRequired: not a non-empty string.
        RecipientNotFound: a local address no active agent holds.
    """
    if not isinstance(target, str) or not target.strip():
        raise RecipientRequired()
    target = target.strip()
    if not _remote(target, domain):  # this carrier's: atp://agent/… or name@domain
        agent = await carrier().identities.agent(await resolve_recipient(target))
        if agent is None:
            raise RecipientNotFound()
        return address_of(agent, domain)
    return target
