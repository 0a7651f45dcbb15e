"""Dead letters: messages whose webhook delivery failed for good, parked for the recipient.

The recipient lists them, and either redrives one (a fresh webhook delivery) or
releases it to its inbox, where polling can claim it. Beside the contract's routes,
which keep their shapes: a parked message reads ``delivery_failed`` there.
"""

from __future__ import annotations

from typing import Any

from quart import Blueprint

from atp.actors import Ticket
from atp.actors.commands import RedriveDeadLetter, ReleaseDeadLetter
from atp.api._requests import Answer, authenticate, carrier, idempotent, read_params, whole_number

__all__ = ["blueprint"]

blueprint = Blueprint("dead_letters", __name__)


@blueprint.get("/api/dead_letters")
async def list_dead_letters() -> dict[str, Any]:
    """The caller's dead letters, oldest first, ``limit`` at a time after ``after``."""
    principal = await authenticate("agent")
    assert principal.agent_id is not None
    params = await read_params()
    limit = whole_number(params.get("limit", 50), 1, 200)
    after = params.get("after")
    rt = carrier()
    views = await rt.views()
    rows = await views.dead_letters(
        principal.agent_id, after if isinstance(after, str) else None, limit + 1
    )
    page = rows[:limit]
    return {
        "dead_letters": [
            {"dead_lettered_at": parked_at, "message_status": document}
            for parked_at, document in page
        ],
        "next_after": page[-1][1]["message"]["id"] if len(rows) > limit else None,
    }


@blueprint.post("/api/dead_letters/<message_id>/redrive")
async def redrive(message_id: str) -> Answer:
    """Try the webhook again, with a new delivery and a full set of attempts."""
    return await _act(message_id, RedriveDeadLetter)


@blueprint.post("/api/dead_letters/<message_id>/release")
async def release(message_id: str) -> Answer:
    """Move the message to the inbox: queued again, for polling claims only."""
    return await _act(message_id, ReleaseDeadLetter)


async def _act(message_id: str, command: type[RedriveDeadLetter | ReleaseDeadLetter]) -> Answer:
    principal = await authenticate("agent")
    assert principal.agent_id is not None
    agent_id = principal.agent_id
    params = await read_params()

    async def build(ticket: Ticket) -> RedriveDeadLetter | ReleaseDeadLetter:
        return command(agent_id, message_id, ticket)

    answer = await idempotent(principal, params, build)
    carrier().watch_receipts(message_id)  # committed: its task goes on, and its sender hears
    return answer
