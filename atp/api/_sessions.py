"""Sessions (contract §1.10-1.13, §6): open, read, answer, send turns; close and list beyond.

Every write goes to the session's actor, which serialises it; reads come from the
views once they have caught up with the ledger (read-your-writes).
"""

from __future__ import annotations

from typing import Any, Literal, get_args

from quart import Blueprint

from atp.actors import Principal, Ticket
from atp.actors.commands import AnswerSession, CloseSession, OpenSession, SendTurn
from atp.api._as_of import as_of_position, session_as_of
from atp.api._requests import (
    Answer,
    authenticate,
    carrier,
    idempotent,
    read_params,
    read_send,
    resolve_recipient,
    whole_number,
)
from atp.domain import Message, Session, SessionStatus, new_id
from atp.errors import (
    InvalidRequest,
    InvalidSessionRecipient,
    NotFound,
    PayloadRequired,
)
from atp.projections import SessionRow
from atp.wire import check_payload, message_status, session_document, viewer_document

__all__ = ["blueprint", "visible"]

blueprint = Blueprint("sessions", __name__)

_STATUSES = frozenset(get_args(SessionStatus))


@blueprint.post("/api/sessions")
async def open_session() -> Answer:
    principal, agent_id = await _agent()
    params = await read_params()
    to = read_send(params)

    async def build(ticket: Ticket) -> OpenSession:
        recipient = await resolve_recipient(to)
        if recipient == agent_id:
            raise InvalidSessionRecipient()
        return OpenSession(
            new_id("ses"), agent_id, principal.account_id, recipient, params["payload"], ticket
        )

    return await idempotent(principal, params, build, two_phase=True)


@blueprint.post("/api/sessions/<session_id>/messages")
async def send_turn(session_id: str) -> Answer:
    principal, agent_id = await _agent()
    params = await read_params()
    if "payload" not in params:
        raise PayloadRequired()
    check_payload(params["payload"])

    async def build(ticket: Ticket) -> SendTurn:
        return SendTurn(session_id, agent_id, principal.account_id, params["payload"], ticket)

    return await idempotent(principal, params, build, two_phase=True)


@blueprint.post("/api/sessions/<session_id>/accept")
async def accept(session_id: str) -> Answer:
    return await _answer(session_id, "accepted")


@blueprint.post("/api/sessions/<session_id>/reject")
async def reject(session_id: str) -> Answer:
    return await _answer(session_id, "rejected")


async def _answer(session_id: str, status: Literal["accepted", "rejected"]) -> Answer:
    principal, agent_id = await _agent()
    params = await read_params()
    payload = params.get("payload")
    if payload is not None:
        check_payload(payload)

    async def build(ticket: Ticket) -> AnswerSession:
        return AnswerSession(session_id, agent_id, status, payload, ticket)

    return await idempotent(principal, params, build)


@blueprint.post("/api/sessions/<session_id>/close")
async def close(session_id: str) -> Answer:
    """Beyond the reference: either participant ends the session; no more turns."""
    principal, agent_id = await _agent()
    params = await read_params()

    async def build(ticket: Ticket) -> CloseSession:
        return CloseSession(session_id, agent_id, ticket)

    return await idempotent(principal, params, build)


@blueprint.get("/api/sessions/<session_id>")
async def show(session_id: str) -> dict[str, Any]:
    """The session and its transcript; ``after_sequence`` and ``limit`` page it."""
    _, agent_id = await _agent()
    params = await read_params()
    after = whole_number(params.get("after_sequence", 0), 0, 2**62)
    limit = None if "limit" not in params else whole_number(params["limit"], 1, 500)
    rt = carrier()
    views = await rt.views()
    session = visible(await views.session(session_id), agent_id)
    if "as_of" in params:  # the session and its messages as they were then
        position = await as_of_position(rt, params["as_of"])
        then, messages = await session_as_of(rt, session_id, position)
        return _session_then(then, messages, agent_id, after, limit)
    rows = await views.transcript(session_id, after, limit)
    body: dict[str, Any] = {
        "session": session.document(),
        "messages": [
            viewer_document(row.document, recipient_side=row.recipient_agent_id == agent_id)
            for row in rows
        ],
    }
    if limit is not None:
        more = len(rows) == limit and rows[-1].document["message"]["session_sequence"] < int(
            session.last_sequence
        )
        body["next_after_sequence"] = (
            rows[-1].document["message"]["session_sequence"] if more else None
        )
    return body


@blueprint.get("/api/sessions")
async def list_sessions() -> dict[str, Any]:
    """Beyond the reference: the caller's sessions, oldest first, by ``status``, paged."""
    _, agent_id = await _agent()
    params = await read_params()
    status = params.get("status")
    if status is not None and status not in _STATUSES:
        raise InvalidRequest(f"unknown status {status!r}")
    limit = whole_number(params.get("limit", 50), 1, 200)
    after = params.get("after")
    rt = carrier()
    views = await rt.views()
    rows = await views.sessions_of(
        agent_id, status, after if isinstance(after, str) else None, limit + 1
    )
    page = rows[:limit]
    return {
        "sessions": [row.document() for row in page],
        "next_after": page[-1].id if len(rows) > limit else None,
    }


async def _agent() -> tuple[Principal, str]:
    principal = await authenticate("agent")
    assert principal.agent_id is not None
    return principal, principal.agent_id


def _session_then(
    session: Session, messages: list[Message], agent_id: str, after: int, limit: int | None
) -> dict[str, Any]:
    """``GET /api/sessions/:id`` of a session rebuilt from the ledger (``as_of``)."""
    turns = [m for m in messages if (m.session_sequence or 0) > after][:limit]
    body: dict[str, Any] = {
        "session": session_document(session),
        "messages": [
            viewer_document(message_status(m), recipient_side=m.recipient_agent_id == agent_id)
            for m in turns
        ],
    }
    if limit is not None:
        more = len(turns) == limit and (turns[-1].session_sequence or 0) < session.last_sequence
        body["next_after_sequence"] = turns[-1].session_sequence if more else None
    return body


def visible(session: SessionRow | None, agent_id: str) -> SessionRow:
    """Only the two participants see a session; to anyone else it does not exist."""
    if session is None or agent_id not in (session.initiator_agent_id, session.recipient_agent_id):
        raise NotFound("session")
    return session
