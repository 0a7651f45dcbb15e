"""``GET /api/inbox/stream``: a streaming consumer. Leased deliveries are pushed to the
connected recipient as Server-Sent Events, as they arrive, within a credit.

Each event is one delivery, ``event: delivery``, ``id: <delivery id>``, its data the
claim document (``{"id","leased_until","message"}``, as ``POST /api/inbox/claims``
answers). The consumer ACKs as after a claim, one by one or through
``POST /api/deliveries/acks``.

- **Credit.** At most ``credit`` deliveries are held at a time: handed out and neither
  ACKed nor past their lease. An ACK gives its credit back, so a slow consumer is never
  sent more than it can hold, and a fast one gets the next messages as it ACKs.
- **Leases.** Each delivery is claimed on a lease of ``lease_seconds``, which is
  renewed (to ``lease_seconds`` from then) once a third of it has passed, for as long
  as the consumer stays connected. When the consumer goes away, or the carrier stops,
  the leases it still holds are released, so the next claimer gets those messages at
  once. After a crash nothing releases them: they end on their own, at most
  ``lease_seconds`` later, and until then nobody else is handed those messages.
- **The key** is checked again at each turn: once it is rotated, or the agent is
  disabled, the stream ends (and releases what it held).
- **Resuming** needs no cursor: the inbox is the stream's state. A consumer that
  reconnects gets what it has not ACKed again (under new delivery ids), then what
  arrived meanwhile; an ACK of a delivery it still holds from before is recorded as
  any ACK is.

Each turn of the stream is one mailbox command (``FeedStream``), woken by the mailbox's
commits: new messages, ACKs, released and ended leases.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import trio
from quart import Blueprint, Response

from atp.actors import Carrier
from atp.actors.commands import FeedStream, ReleaseLeases
from atp.api._access_log import HttpStats
from atp.api._requests import (
    authenticate,
    bearer_token,
    carrier,
    event_stream,
    http_stats,
    read_params,
    whole_number,
)
from atp.errors import AtpError

__all__ = ["CREDIT", "HEARTBEAT_SECONDS", "LEASE_SECONDS", "MAX_LEASE_SECONDS", "blueprint"]

log = logging.getLogger(__name__)

blueprint = Blueprint("inbox_stream", __name__)

HEARTBEAT_SECONDS = 15.0
CREDIT = 10
LEASE_SECONDS = 30
MAX_LEASE_SECONDS = 3600
_RELEASE_WITHIN = 5.0  # seconds the release may take once the consumer is gone


@blueprint.get("/api/inbox/stream")
async def stream() -> Response:
    principal = await authenticate("agent")
    assert principal.agent_id is not None
    params = await read_params()
    rt = carrier()
    credit = whole_number(params.get("credit", CREDIT), 1, rt.settings.batch_max_messages)
    lease = whole_number(params.get("lease_seconds", LEASE_SECONDS), 1, MAX_LEASE_SECONDS)
    token = bearer_token()
    assert token is not None
    consumer = _Consumer(rt, http_stats(), token, principal.agent_id, credit, lease)
    return event_stream(consumer.events())


class _Consumer:
    """One connected stream: the deliveries it holds, and when to renew their leases."""

    def __init__(
        self,
        rt: Carrier,
        stats: HttpStats,
        token: str,
        agent_id: str,
        credit: int,
        lease_seconds: int,
    ) -> None:
        self._rt = rt
        self._stats = stats
        self._token = token
        self._agent_id = agent_id
        self._credit = credit
        self._lease_seconds = lease_seconds
        self._holding: tuple[str, ...] = ()

    async def events(self) -> AsyncIterator[bytes]:
        """The stream's body; runs after the handler returned, until the consumer goes
        away (the request is cancelled) or the carrier stops."""
        self._stats.streams_open += 1
        try:
            with self._rt.liveness.waiting(self._agent_id):
                async for chunk in self._follow():
                    yield chunk
        except AtpError as exc:  # the store went away, say: end; the client reconnects
            log.warning("inbox stream of %s ended: %s", self._agent_id, exc.code)
        finally:
            self._stats.streams_open -= 1
            with trio.CancelScope(shield=True), trio.move_on_after(_RELEASE_WITHIN):
                await self._release()

    async def _follow(self) -> AsyncIterator[bytes]:
        rt = self._rt
        # Woken a third of a lease apart while holding: the mailbox renews each lease
        # with less than two thirds of it left, so none comes near its end.
        renewal = min(self._lease_seconds / 3, HEARTBEAT_SECONDS)
        yield b": stream open\n\n"  # the headers go out now, not with the first delivery
        while not rt.arrivals.closed:
            news = rt.arrivals.event(self._agent_id)  # before asking: no commit slips by
            if await rt.identities.principal(self._token) is None:
                return  # the key was rotated, or the agent disabled: the stream ends
            feed = FeedStream(self._agent_id, self._holding, self._credit, self._lease_seconds)
            with trio.CancelScope(shield=True):  # what it claims is released if we go
                reply = await rt.ask(feed)
            claims: list[dict[str, Any]] = reply.body["deliveries"]
            self._holding = (*reply.body["holding"], *(claim["id"] for claim in claims))
            self._stats.streamed += len(claims)
            for claim in claims:
                yield _event(claim)
            with trio.move_on_after(renewal if self._holding else HEARTBEAT_SECONDS) as idle:
                await news.wait()
            if idle.cancelled_caught:
                yield b": heartbeat\n\n"

    async def _release(self) -> None:
        if not self._holding:
            return
        try:
            await self._rt.ask(ReleaseLeases(self._agent_id, self._holding))
        except AtpError as exc:  # they end on their own, lease_seconds at most
            log.warning("inbox stream of %s: leases not released: %s", self._agent_id, exc.code)
        self._holding = ()


def _event(claim: dict[str, Any]) -> bytes:
    data = json.dumps(claim, separators=(",", ":"))
    return f"id: {claim['id']}\nevent: delivery\ndata: {data}\n\n".encode()
