"""``POST /api/messages/batch`` and ``POST /api/deliveries/acks``: many sends, or many
ACKs, in one request, each answered on its own. (Sends are described here; ACKs work
the same way, keyed as ``POST /api/deliveries/:id/acks`` with the item's delivery id.)

Each item is a send as ``POST /api/messages`` takes it (``to``, ``payload``), with its
own idempotency key: the item's ``idempotency_key``, else the request's
``Idempotency-Key`` and the item's index (``<key>/<index>``). An item's key is scoped
exactly as a single send's, so an item retried alone through ``POST /api/messages``
with its key answers what the batch answered, and a batch sent again answers every
item as before; no answer for the batch as a whole is stored.

Items run side by side: their commands reach the recipients' mailboxes together, in
the batch's order, and the journal commits what they record in as few transactions as
the load allows. One item's refusal (its recipient unknown, its payload invalid, its
key reused for another request) is its own result and changes nothing for the others.
"""

from __future__ import annotations

from typing import Any

import trio
from quart import Blueprint, Response

from atp.actors import Principal, Ticket, encode_answer
from atp.actors.commands import Command, RecordAck, Reply, SendMessage
from atp.api._inbox import record_ack
from atp.api._requests import (
    answer_once,
    authenticate,
    carrier,
    http_stats,
    idempotency_key,
    read_params,
    read_send,
    resolve_recipient,
)
from atp.api._scopes import scope_template
from atp.errors import AtpError, InvalidRequest

__all__ = ["blueprint"]

blueprint = Blueprint("batches", __name__)

# An item is keyed as the single route's request would be.
_SEND_SCOPE = scope_template("POST", "/api/messages")
_ACK_SCOPE = scope_template("POST", "/api/deliveries/<delivery_id>/acks")
_MAX_KEY = 200  # as the Idempotency-Key header

_Result = tuple[int, bytes]  # an item's status, and its {"status", "body"} as JSON


@blueprint.post("/api/messages/batch")
async def send_batch() -> Response:
    principal = await authenticate("agent")
    items = _items(await read_params(), "messages")
    batch_key = idempotency_key()
    results: list[_Result] = [(0, b"")] * len(items)
    # Each item queues its command only after the item before it did, so that one
    # recipient's messages keep the batch's order; what comes before (checks, the key,
    # the recipient) runs side by side.
    turns = [trio.Event() for _ in items]

    async def run(index: int, item: object) -> None:
        after = turns[index - 1] if index else None
        try:
            key = f"{batch_key}/{index}"
            results[index] = await _send_item(principal, item, key, after, turns[index])
        finally:
            if not turns[index].is_set():  # refused before its turn: pass the turn on
                if after is not None:
                    await after.wait()
                turns[index].set()

    async with trio.open_nursery() as nursery:
        for index, item in enumerate(items):
            nursery.start_soon(run, index, item)
    return _answer("sends", results)


@blueprint.post("/api/deliveries/acks")
async def ack_batch() -> Response:
    """Many ACKs, each answered as ``POST /api/deliveries/:id/acks`` would answer it
    with the item's key (scoped as that route's, with the item's delivery id)."""
    principal = await authenticate("agent")
    items = _items(await read_params(), "acks")
    batch_key = idempotency_key()
    assert principal.agent_id is not None
    carrier().liveness.seen(principal.agent_id)
    results: list[_Result] = [(0, b"")] * len(items)

    async def run(index: int, item: object) -> None:
        results[index] = await _ack_item(principal, item, f"{batch_key}/{index}")

    async with trio.open_nursery() as nursery:
        for index, item in enumerate(items):
            nursery.start_soon(run, index, item)
    return _answer("acks", results)


async def _ack_item(principal: Principal, item: object, default_key: str) -> _Result:
    """One ACK's result, as the single ACK route answers it (``atp.api._inbox.ack``)."""
    assert principal.agent_id is not None
    agent_id = principal.agent_id
    try:
        delivery_id = item.get("delivery_id") if isinstance(item, dict) else None
        if not isinstance(item, dict) or not isinstance(delivery_id, str) or not delivery_id:
            raise InvalidRequest("each of acks: an object with delivery_id and status")
        key = _item_key(item, default_key)
        params = {k: v for k, v in item.items() if k not in ("delivery_id", "idempotency_key")}

        async def build(ticket: Ticket) -> RecordAck:
            return record_ack(agent_id, delivery_id, params, ticket)

        route = _ACK_SCOPE.format(delivery_id=delivery_id)
        return _result(await answer_once(principal, route, key, params, build))
    except AtpError as exc:
        return _error(exc)


async def _send_item(
    principal: Principal,
    item: object,
    default_key: str,
    after: trio.Event | None,
    queued: trio.Event,
) -> _Result:
    """One item's result, ``{"status": …, "body": …}`` as JSON: the answer a single send
    with the item's key gets (replayed if it was given before), or the item's error.
    Its command is queued once ``after`` is set; ``queued`` is set as it is."""
    assert principal.agent_id is not None
    sender_agent_id = principal.agent_id
    try:
        if not isinstance(item, dict):
            raise InvalidRequest("each of messages: an object with to and payload")
        key = _item_key(item, default_key)
        send = {k: v for k, v in item.items() if k != "idempotency_key"}
        to = read_send(send)

        async def build(ticket: Ticket) -> SendMessage:
            recipient_agent_id = await resolve_recipient(to)
            return SendMessage(
                recipient_agent_id, sender_agent_id, principal.account_id, send["payload"], ticket
            )

        async def in_turn(command: Command) -> Reply:
            if after is not None:
                await after.wait()
            # The ask queues the command before it first waits (Actor.ask), so the next
            # item cannot queue its own before this one.
            queued.set()
            return await carrier().ask(command)

        reply = await answer_once(
            principal, _SEND_SCOPE, key, send, build, two_phase=True, ask=in_turn
        )
        return _result(reply)
    except AtpError as exc:
        return _error(exc)


def _item_key(item: dict[str, Any], default: str) -> str:
    """The item's own ``idempotency_key``, or ``default``.

    Raises:
        InvalidRequest: not a string of 1 to 200 characters.
    """
    key = item.get("idempotency_key", default)
    if not isinstance(key, str) or not key.strip() or len(key) > _MAX_KEY:
        raise InvalidRequest(f"idempotency_key: a string of 1 to {_MAX_KEY} characters")
    return key.strip()


def _result(reply: Reply) -> _Result:
    encoded = reply.encoded if reply.encoded is not None else encode_answer(reply.body)
    return reply.status, b'{"status":%d,"body":%s}' % (reply.status, encoded)


def _error(exc: AtpError) -> _Result:
    return exc.status, b'{"status":%d,"body":%s}' % (exc.status, encode_answer(exc.envelope()))


def _answer(kind: str, results: list[_Result]) -> Response:
    http_stats().count_items(kind, (status for status, _ in results))
    body = b'{"results":[' + b",".join(result for _, result in results) + b"]}\n"
    return Response(body, 200, mimetype="application/json")


def _items(params: dict[str, Any], name: str) -> list[Any]:
    """The request's list of items.

    Raises:
        InvalidRequest: missing, empty, or longer than the batch limit.
    """
    items = params.get(name)
    limit = carrier().settings.batch_max_messages
    if not isinstance(items, list) or not 1 <= len(items) <= limit:
        raise InvalidRequest(f"{name}: a list of 1 to {limit} items")
    return items
