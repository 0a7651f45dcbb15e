"""``POST /api/messages/batch``: many sends in one request, each answered on its own.

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

from atp.actors import Principal, Ticket, encode_answer, request_hash
from atp.actors.commands import SendMessage
from atp.api._requests import (
    authenticate,
    carrier,
    idempotency_key,
    read_params,
    read_send,
    resolve_recipient,
)
from atp.api._scopes import scope_template
from atp.errors import AtpError, InvalidRequest

__all__ = ["blueprint"]

blueprint = Blueprint("batches", __name__)

_SEND_SCOPE = scope_template("POST", "/api/messages")  # an item is keyed as a single send
_MAX_KEY = 200  # as the Idempotency-Key header


@blueprint.post("/api/messages/batch")
async def send_batch() -> Response:
    principal = await authenticate("agent")
    params = await read_params()
    items = params.get("messages")
    limit = carrier().settings.batch_max_messages
    if not isinstance(items, list) or not 1 <= len(items) <= limit:
        raise InvalidRequest(f"messages: a list of 1 to {limit} sends")
    batch_key = idempotency_key()
    results: list[bytes] = [b""] * len(items)
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
    body = b'{"results":[' + b",".join(results) + b"]}\n"
    return Response(body, 200, mimetype="application/json")


async def _send_item(
    principal: Principal,
    item: object,
    default_key: str,
    after: trio.Event | None,
    queued: trio.Event,
) -> bytes:
    """One item's result, ``{"status": …, "body": …}`` as JSON: the answer a single send
    with the item's key gets (replayed if it was given before), or the item's error.
    Its command is queued once ``after`` is set; ``queued`` is set as it is."""
    try:
        if not isinstance(item, dict):
            raise InvalidRequest("each of messages: an object with to and payload")
        key = item.get("idempotency_key", default_key)
        if not isinstance(key, str) or not key.strip() or len(key) > _MAX_KEY:
            raise InvalidRequest(f"idempotency_key: a string of 1 to {_MAX_KEY} characters")
        send = {k: v for k, v in item.items() if k != "idempotency_key"}
        to = read_send(send)
        status, encoded = await _send(principal, send, to, key.strip(), after, queued)
    except AtpError as exc:
        status, encoded = exc.status, encode_answer(exc.envelope())
    return b'{"status":%d,"body":%s}' % (status, encoded)


async def _send(
    principal: Principal,
    send: dict[str, Any],
    to: str,
    key: str,
    after: trio.Event | None,
    queued: trio.Event,
) -> tuple[int, bytes]:
    """The single send's path (``atp.api._requests.idempotent``) for one item."""
    rt = carrier()
    assert principal.agent_id is not None
    scope = rt.gate.scope(principal.account_id, principal.kind, principal.id, _SEND_SCOPE, key)
    ticket: Ticket = await rt.gate.enter(scope, request_hash(send), wait=False)
    try:
        try:
            recipient_agent_id = await resolve_recipient(to)
        except AtpError:
            replay = await rt.gate.committed(ticket)  # the key answers before the body
            if replay is None:
                raise
            return replay.status, replay.encoded
        command = SendMessage(
            recipient_agent_id, principal.agent_id, principal.account_id, send["payload"], ticket
        )
        if after is not None:
            await after.wait()
        # The ask queues the command before it first waits (Actor.ask), so the next item
        # cannot queue its own before this one.
        queued.set()
        reply = await rt.ask(command)
    finally:
        rt.gate.leave(ticket)
    encoded = reply.encoded if reply.encoded is not None else encode_answer(reply.body)
    return reply.status, encoded
