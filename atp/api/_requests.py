"""What every handler does first: read the parameters, authenticate, gate idempotency."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import unquote_to_bytes

from quart import Response, current_app, g, request
from werkzeug.exceptions import RequestEntityTooLarge

from atp.actors import Carrier, Principal, Ticket, request_hash
from atp.actors.commands import Command, Reply
from atp.api._access_log import HttpStats, note_principal
from atp.api._scopes import route_scope
from atp.domain import ADDRESS_PREFIX, AGENT_ID_PREFIX, Agent
from atp.errors import (
    AccountKeyRequired,
    AgentKeyRequired,
    AtpError,
    IdempotencyKeyRequired,
    InvalidRequest,
    MalformedRequest,
    PayloadRequired,
    RecipientNotFound,
    RecipientRequired,
    Unauthorized,
)
from atp.wire import NotJson, check_payload, parse_json

__all__ = [
    "Answer",
    "answer_once",
    "authenticate",
    "bearer_token",
    "body_bytes",
    "carrier",
    "check_query",
    "event_stream",
    "http_stats",
    "idempotency_key",
    "idempotent",
    "local_agent",
    "method_override",
    "read_params",
    "read_send",
    "resolve_recipient",
    "whole_number",
]


# What a mutating route answers: a body to encode, or a kept answer's bytes.
Answer = tuple[dict[str, Any], int] | Response


def carrier() -> Carrier:
    """The carrier this app serves."""
    rt: Carrier = current_app.config["ATP_CARRIER"]
    return rt


async def read_params() -> dict[str, Any]:
    """Query string and JSON body merged into one mapping, as the contract's params.

    Parsed once per request, before routing and authentication (as the reference's
    parser runs in its pipeline), so a malformed or oversized body is refused first.
    JSON and form bodies are parsed; any other content type, or none, yields no body
    parameters and is not read at all, so its size does not count (the contract passes
    such bodies through unparsed); a top-level JSON array lands under ``"_json"``.

    Raises:
        MalformedRequest: the body claims to be JSON and is not.
        RequestEntityTooLarge: a JSON or form body is over the limit (answered 413).
    """
    cached: dict[str, Any] | None = g.get("atp_params")
    if cached is not None:
        return cached
    params: dict[str, Any] = dict(request.args.items())
    body: Mapping[str, Any] = {}
    content_type = request.mimetype or ""
    json_body = content_type == "application/json" or content_type.endswith("+json")
    form_body = content_type == "application/x-www-form-urlencoded"
    limit = _body_limit() if json_body or form_body else 0  # other bodies are not read
    if limit and (request.content_length or 0) > limit:
        raise RequestEntityTooLarge()
    if json_body:
        raw = await body_bytes()
        if len(raw) > limit:  # a body sent without its length
            raise RequestEntityTooLarge()
        if raw:
            try:
                value = parse_json(raw)
            except NotJson as exc:
                raise MalformedRequest(str(exc)) from None
            if isinstance(value, dict):
                body = value
            else:
                params["_json"] = value
    elif form_body:
        body = await request.form
    if body:
        params.update(body.items())
        if "_method" in body:
            g.atp_method = body["_method"]
    g.atp_params = params
    return params


def event_stream(body: AsyncIterator[bytes]) -> Response:
    """A Server-Sent Events answer streaming ``body``, for as long as it goes on: no
    response timeout (Quart's default, 60 s, would end every stream after a minute)."""
    headers = {"cache-control": "no-cache", "x-accel-buffering": "no"}
    response = Response(body, status=200, mimetype="text/event-stream", headers=headers)
    response.timeout = None
    return response


def http_stats() -> HttpStats:
    """The HTTP edge's counters (``/metrics``), for what a route counts beyond requests."""
    stats: HttpStats = current_app.config["ATP_HTTP_STATS"]
    return stats


def _body_limit() -> int:
    """The body a route takes: the batch routes' is larger (``ATP_BATCH_MAX_BYTES``)."""
    settings = carrier().settings
    batch = request.blueprint == "batches"
    return settings.batch_max_bytes if batch else settings.max_body_bytes


async def body_bytes() -> bytes:
    """The request's body. Quart-Trio waits for it under a cancel scope (the body
    timeout), which costs several microseconds even when nothing is left to wait for; a
    body that is already in, as a small one that came with its headers is, is taken as
    it stands (awaiting it raises what Quart would: 413 for one over the limit)."""
    body = request.body
    if body._complete.is_set():
        raw: bytes = await body
        return raw
    return await request.get_data(cache=True, as_text=False, parse_form_data=False)


def method_override() -> str | None:
    """PUT, PATCH or DELETE when the body's ``_method`` asks for it (the reference's
    ``Plug.MethodOverride``: body parameters only, any letter case)."""
    method = g.get("atp_method")
    if isinstance(method, str) and method.upper() in ("PUT", "PATCH", "DELETE"):
        return method.upper()
    return None


# A whole number as query text: ASCII digits only (str.isdecimal also takes the digits of
# other scripts), and few enough that int() is cheap and within its digit limit.
_DIGITS = re.compile(r"[0-9]{1,20}")

# A "%" that does not start an escape of two hex digits.
_BAD_ESCAPE = re.compile(rb"%(?![0-9A-Fa-f]{2})")


def check_query(query: bytes) -> None:
    """Refuse a query string the reference's parser refuses: a broken ``%`` escape, or
    escapes that do not decode to UTF-8; and beyond it, one that holds a NUL (``%00``),
    which no stored string or id may hold.

    Raises:
        MalformedRequest: answered 400 ``invalid_request``.
    """
    if b"%" not in query:
        return
    if _BAD_ESCAPE.search(query):
        raise MalformedRequest("query string has a broken escape")
    try:
        text = unquote_to_bytes(query.replace(b"+", b" ")).decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedRequest("query string is not UTF-8") from None
    if "\x00" in text:
        # Query parameters join the body's (read_params): no value may hold a NUL.
        raise MalformedRequest("query string holds a NUL character")


def bearer_token() -> str | None:
    """The token of exactly one ``Authorization: Bearer <token>`` header (the contract's
    rule: case-sensitive ``Bearer ``, a non-empty token), or None."""
    values = request.headers.getlist("Authorization")
    if len(values) != 1 or not values[0].startswith("Bearer ") or not values[0][7:]:
        return None
    return values[0][7:]


async def authenticate(*kinds: str) -> Principal:
    """The caller, from exactly one ``Authorization: Bearer <token>`` header.

    Raises:
        Unauthorized: missing, malformed, unknown or revoked token.
        AccountKeyRequired / AgentKeyRequired: the wrong kind of key for this route.
    """
    token = bearer_token()
    if token is None:
        raise Unauthorized()
    principal = await carrier().identities.principal(token)
    if principal is None:
        raise Unauthorized()
    note_principal(principal.id)
    if principal.kind not in kinds:
        raise AccountKeyRequired() if "account" in kinds else AgentKeyRequired()
    return principal


def idempotency_key() -> str:
    """The trimmed ``Idempotency-Key`` header.

    Raises:
        IdempotencyKeyRequired: missing or blank.
    """
    key = (request.headers.get("Idempotency-Key") or "").strip()
    if not key:
        raise IdempotencyKeyRequired()
    return key


async def idempotent(
    principal: Principal,
    params: dict[str, Any],
    build: Callable[[Ticket], Awaitable[Command]],
    *,
    two_phase: bool = False,
    ask: Callable[[Command], Awaitable[Reply]] | None = None,
) -> Answer:
    """Run this request's mutation at most once per (principal, route, key) and replay
    its answer (``answer_once`` with the request's route and ``Idempotency-Key``)."""
    key = idempotency_key()
    reply = await answer_once(
        principal, route_scope(), key, params, build, two_phase=two_phase, ask=ask
    )
    if reply.encoded is not None:
        return _stored_answer(reply.status, reply.encoded)
    return reply.body, reply.status


async def answer_once(
    principal: Principal,
    route: str,
    key: str,
    params: dict[str, Any],
    build: Callable[[Ticket], Awaitable[Command]],
    *,
    two_phase: bool = False,
    ask: Callable[[Command], Awaitable[Reply]] | None = None,
) -> Reply:
    """Run a mutation at most once per (principal, ``route``, ``key``) and replay its
    answer; a stored or replayed answer carries its bytes (``Reply.encoded``).

    The route's part of the scope comes from ``atp.api._scopes`` (a stored format).

    ``build`` makes the command from the admission ticket; it may validate the body
    and raise, which frees the key again (errors are never stored). ``two_phase``
    routes answer a concurrent duplicate with ``idempotency_in_progress``; the others
    make it wait and replay (contract §2.6). ``ask`` replaces ``Carrier.ask`` (a long
    poll asks more than once; a batch item waits for its turn).
    """
    rt = carrier()
    scope = rt.gate.scope(principal.account_id, principal.kind, principal.id, route, key)
    digest = request_hash({k: v for k, v in params.items() if k != "id"})
    ticket = await rt.gate.enter(scope, digest, wait=not two_phase)
    try:
        try:
            command = await build(ticket)
        except AtpError:
            # The contract checks the key before the body: a finished request with this
            # key answers (replay or conflict) even when this body would be refused.
            replay = await rt.gate.committed(ticket)
            if replay is None:
                raise
            return Reply(replay.status, json.loads(replay.encoded), replay.encoded)
        return await (ask or rt.ask)(command)
    finally:
        rt.gate.leave(ticket)


def _stored_answer(status: int, encoded: bytes) -> Response:
    """A kept answer's own bytes: what Quart's JSON response would hold, encoded once."""
    return Response(encoded + b"\n", status, mimetype="application/json")


async def resolve_recipient(address: str) -> str:
    """The active agent at exactly this address: ``atp://agent/<id>``, or
    ``name@<ATP_DOMAIN>`` for an agent with a name.

    Raises:
        RecipientNotFound: no such active agent (or another carrier's address).
    """
    if "@" in address and not address.startswith(ADDRESS_PREFIX):
        return await _named_recipient(address)
    agent_id = address.removeprefix(ADDRESS_PREFIX)
    if agent_id == address or not agent_id or "\x00" in agent_id:
        raise RecipientNotFound()  # no address holds a NUL (PostgreSQL could not look it up)
    agent = await carrier().identities.agent(agent_id)
    if agent is None or agent.status != "active" or agent.address != address:
        raise RecipientNotFound()
    return agent_id


async def _named_recipient(address: str) -> str:
    local, _, domain = address.rpartition("@")
    if domain.lower() != carrier().settings.domain:
        raise RecipientNotFound()  # another carrier's: federation is not served yet
    agent = await local_agent(local)
    if agent is None:
        raise RecipientNotFound()
    return agent.agent_id


async def local_agent(local_part: str) -> Agent | None:
    """The active agent at ``<local_part>@<ATP_DOMAIN>``: its name (any letter case), or
    its id (an agent without a name is ``<agent id>@<ATP_DOMAIN>``)."""
    if not local_part or "\x00" in local_part:
        return None  # no name or id holds a NUL (PostgreSQL could not look it up)
    identities = carrier().identities
    agent = await identities.named(local_part.lower())
    if agent is None and local_part.startswith(AGENT_ID_PREFIX):
        agent = await identities.agent(local_part)
    return agent if agent is not None and agent.status == "active" else None


def read_send(params: dict[str, Any]) -> str:
    """Check a send's ``to`` and ``payload`` in the contract's order (recipient, payload
    presence, payload validity; the idempotency key comes after); return ``to`` trimmed.

    Raises:
        RecipientRequired, PayloadRequired, PayloadTooLarge, InvalidA2AMessage.
    """
    to = params.get("to")
    if not isinstance(to, str) or not to.strip():
        raise RecipientRequired()
    if "payload" not in params:
        raise PayloadRequired()
    check_payload(params["payload"])
    return to.strip()


def whole_number(value: object, low: int, high: int) -> int:
    """A whole number in [low, high], from JSON or from a query string's text.

    Raises:
        InvalidRequest: anything else.
    """
    if isinstance(value, str) and _DIGITS.fullmatch(value):
        value = int(value)  # at most 20 ASCII digits: int() never meets its length limit
    if type(value) is not int or not low <= value <= high:
        raise InvalidRequest(f"expected a whole number in [{low}, {high}]")
    return value
