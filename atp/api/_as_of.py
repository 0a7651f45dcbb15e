"""``as_of``: a message, a session or an agent as it was then, rebuilt from the ledger.

``as_of`` is an audit index (the state after that record) or an RFC 3339 time (the
state after the last record at or before it). The audit log says which version each
aggregate had there; the ledger folds the aggregate up to that version; the answer has
the same shape as today's. Who may see it is decided as today.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TypeVar

from atp.actors import Carrier
from atp.domain import Agent, Message, Session, aggregate_id
from atp.errors import InvalidRequest, NotFound
from atp.wire import iso

__all__ = ["agent_as_of", "as_of_position", "message_as_of", "session_as_of"]

A = TypeVar("A", Message, Session, Agent)
_MAX_INDEX = 2**62


async def as_of_position(rt: Carrier, value: object) -> int:
    """The ledger notification ``as_of`` stands for.

    Raises:
        InvalidRequest: neither a whole number nor an RFC 3339 time with its offset.
        NotFound: an index past the log's end, or a time before its first record.
    """
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequest("as_of is an audit index or an RFC 3339 time")
    text = value.strip()
    audit = rt.audit
    await audit.wait_current()
    if text.isascii() and text.isdigit():
        index = int(text) if len(text) <= 19 else _MAX_INDEX
        position = await audit.read(audit.store.position_at, index)
    else:
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise InvalidRequest("as_of is an audit index or an RFC 3339 time") from None
        if moment.tzinfo is None:
            raise InvalidRequest("an as_of time needs its offset (Z or +hh:mm)")
        position = await audit.read(audit.store.position_at, None, iso(moment.astimezone(UTC)))
    if position is None:
        raise NotFound("nothing was recorded by then")
    return position


async def _load(
    rt: Carrier, cls: type[A], column: str, types: str, wire_id: str, position: int
) -> A | None:
    version = await rt.audit.read(rt.audit.store.version_at, column, wire_id, types, position)
    if version is None:
        return None
    loaded = await rt.versions(cls, [(aggregate_id(wire_id), version)])
    return loaded.get(aggregate_id(wire_id))


async def message_as_of(rt: Carrier, message_id: str, position: int) -> Message:
    """Raises: NotFound: the message did not exist then."""
    message = await _load(rt, Message, "message_id", "%", message_id, position)
    if message is None:
        raise NotFound("message")
    return message


async def session_as_of(
    rt: Carrier, session_id: str, position: int
) -> tuple[Session, list[Message]]:
    """The session then, and its messages as they were then, in sequence order.

    Raises:
        NotFound: the session did not exist then.
    """
    session = await _load(rt, Session, "session_id", "session.%", session_id, position)
    if session is None:
        raise NotFound("session")
    turns = [session.opening_message_id]
    turns += await rt.audit.read(rt.audit.store.turns_at, session_id, position)
    versions = await rt.audit.read(rt.audit.store.message_versions_at, turns, position)
    wanted = [(aggregate_id(m), versions[m]) for m in turns if m in versions]
    loaded = await rt.versions(Message, wanted)
    return session, [loaded[aggregate_id(m)] for m in turns if aggregate_id(m) in loaded]


async def agent_as_of(rt: Carrier, agent_id: str, position: int) -> Agent:
    """Raises: NotFound: the agent did not exist then."""
    agent = await _load(rt, Agent, "agent_a", "agent.%", agent_id, position)
    if agent is None:
        raise NotFound("agent")
    return agent
