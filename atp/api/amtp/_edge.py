"""What every ``/v1`` route shares: its error body, its JSON, who calls, and addresses.

Errors are AMTP's (§13): ``{"error": {"code", "message", "details"?, "timestamp",
"request_id"}}``. An ``AtpError`` from the carrier below is answered in AMTP's words
(``_CARRIER_ERRORS``); anything else is a bug, logged by class and place only.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec

from quart import Response, request

from atp.actors import Principal
from atp.amtp import AmtpError, AuthenticationFailed, InvalidMessageFormat, MessageTooLarge
from atp.api._access_log import note_principal
from atp.api._requests import bearer_token, body_bytes, carrier
from atp.domain import Agent
from atp.errors import (
    AtpError,
    Conflict,
    Forbidden,
    IdempotencyConflict,
    IdempotencyInProgress,
    MessageIdTaken,
    NameTaken,
    NotAParticipant,
    NotFound,
    PlanLimitExceeded,
    RateLimited,
    RecipientNotFound,
    TooLarge,
    Unauthorized,
)
from atp.observe import current_request_id, describe_exception, new_request_id
from atp.wire import NotJson, iso, parse_json

__all__ = [
    "AccessDenied",
    "address_of",
    "admin_caller",
    "agent_caller",
    "amtp_route",
    "answer",
    "parse_body",
    "read_body",
    "read_json",
    "reader",
]

log = logging.getLogger("atp.api.amtp")

P = ParamSpec("P")
_COMPACT = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


class AccessDenied(AmtpError):
    status, code, default = 403, "ACCESS_DENIED", "this key may not do that"


class _CarrierError(AmtpError):
    """An ``AtpError`` in AMTP's words (status and code set per instance)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status  # type: ignore[misc]
        self.code = code  # type: ignore[misc]


# The carrier's errors as AMTP names them, most specific first.
_CARRIER_ERRORS: tuple[tuple[type[AtpError], int, str], ...] = (
    (RecipientNotFound, 404, "AGENT_UNKNOWN"),
    (NotFound, 404, "MESSAGE_NOT_FOUND"),
    (Unauthorized, 401, "AUTHENTICATION_FAILED"),
    (NotAParticipant, 403, "NOT_A_PARTICIPANT"),
    (Forbidden, 403, "ACCESS_DENIED"),
    (MessageIdTaken, 409, "DUPLICATE_MESSAGE_ID"),
    (IdempotencyConflict, 409, "IDEMPOTENCY_CONFLICT"),
    (IdempotencyInProgress, 409, "IDEMPOTENCY_IN_PROGRESS"),
    (NameTaken, 409, "AGENT_EXISTS"),
    (Conflict, 409, "CONFLICT"),
    (TooLarge, 413, "MESSAGE_TOO_LARGE"),
    (PlanLimitExceeded, 400, "AGENT_REGISTRATION_FAILED"),
    (RateLimited, 429, "RATE_LIMIT_EXCEEDED"),
)


def _in_amtp_words(error: AtpError) -> AmtpError:
    for cls, status, code in _CARRIER_ERRORS:
        if isinstance(error, cls):
            return _CarrierError(status, code, error.message)
    if error.status == 503:
        return _CarrierError(503, "TEMPORARY_FAILURE", error.message)
    if 400 <= error.status < 500:
        return InvalidMessageFormat(error.message)
    return AmtpError()


def amtp_route(handler: Callable[P, Awaitable[Response]]) -> Callable[P, Awaitable[Response]]:
    """Answer every failure of ``handler`` with AMTP's error body."""

    @functools.wraps(handler)
    async def answered(*args: P.args, **kwargs: P.kwargs) -> Response:
        try:
            return await handler(*args, **kwargs)
        except AmtpError as error:
            return _error(error)
        except AtpError as error:
            return _error(_in_amtp_words(error))
        except Exception as error:  # a bug: logged by class and place only
            log.error("unexpected error in an AMTP call (%s)", describe_exception(error))
            return _error(AmtpError())

    return answered


def answer(body: dict[str, Any], status: int = 200) -> Response:
    return Response(_COMPACT.encode(body), status, content_type="application/json")


def _error(error: AmtpError) -> Response:
    request_id = current_request_id() or new_request_id()
    timestamp = iso(carrier().now())
    assert timestamp is not None
    response = answer(error.body(timestamp, request_id), error.status)
    if error.status == 503:
        response.headers["Retry-After"] = "1"
    elif error.status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="amtp"'
    return response


async def read_body() -> bytes:
    """The request's body, as sent.

    Raises:
        MessageTooLarge: over the carrier's body limit.
    """
    limit = carrier().settings.max_body_bytes
    if (request.content_length or 0) > limit:
        raise MessageTooLarge(f"the body is over {limit} bytes", max_size=limit)
    raw = await body_bytes()
    if len(raw) > limit:
        raise MessageTooLarge(f"the body is over {limit} bytes", max_size=limit)
    return raw


async def read_json() -> Any:
    """The request's JSON body.

    Raises:
        MessageTooLarge: over the carrier's body limit.
        InvalidMessageFormat: not JSON.
    """
    return parse_body(await read_body())


def parse_body(raw: bytes) -> Any:
    """``raw`` as JSON.

    Raises:
        InvalidMessageFormat: not JSON.
    """
    try:
        return parse_json(raw)
    except NotJson as error:
        raise InvalidMessageFormat(f"the body is not JSON: {error}") from None


async def _principal(token: str | None) -> Principal:
    if token is None:
        raise AuthenticationFailed(
            "this route needs a key", required_header="Authorization: Bearer <api-key>"
        )
    principal = await carrier().identities.principal(token)
    if principal is None:
        raise AuthenticationFailed("unknown or revoked key")
    note_principal(principal.id)
    return principal


async def agent_caller() -> tuple[Principal, Agent]:
    """The calling agent, from its key (``Authorization: Bearer``).

    Raises:
        AuthenticationFailed: no key, or an unknown one.
        AccessDenied: not an agent's key.
    """
    principal = await _principal(bearer_token())
    if principal.agent_id is None:
        raise AccessDenied("this route takes an agent's key")
    agent = await carrier().identities.agent(principal.agent_id)
    if agent is None or agent.status != "active":
        raise AuthenticationFailed("unknown or revoked key")
    return principal, agent


async def reader() -> Principal:
    """An agent or an account, by its key (``Authorization: Bearer``).

    Raises:
        AuthenticationFailed: no key, or an unknown one.
        AccessDenied: an auditor's key.
    """
    principal = await _principal(bearer_token())
    if principal.kind == "auditor":
        raise AccessDenied("this route takes an agent's or an account's key")
    return principal


async def admin_caller() -> Principal:
    """The account administering its agents: its account key, as ``X-Admin-Key`` (as
    AMTP's admin tools send it) or ``Authorization: Bearer``.

    Raises:
        AuthenticationFailed: no key, or an unknown one.
        AccessDenied: not an account's key.
    """
    key = request.headers.get("X-Admin-Key") or bearer_token()
    principal = await _principal(key)
    if principal.kind != "account":
        raise AccessDenied("the admin routes take an account key")
    return principal


def address_of(agent: Agent, domain: str) -> str:
    """An agent's AMTP address: ``name@domain``, or ``<agent id>@domain`` unnamed."""
    return f"{agent.name or agent.agent_id}@{domain}"
