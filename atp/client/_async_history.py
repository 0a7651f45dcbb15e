"""``AsyncClient``'s audit-trail and replay methods, awaited (``ClientHistory``'s)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Literal, TypeVar

from atp.client import _calls
from atp.client._audit import AuditorKey, EventPage, MessageHistory
from atp.client._call import Call
from atp.client._replays import Replay

__all__ = ["AsyncClientHistory"]

T = TypeVar("T")


class AsyncClientHistory:
    """The methods of the audit trail (what happened) and of replays (hand it out
    again); the client sends their calls."""

    async def call(self, call: Call[T]) -> T:
        raise NotImplementedError

    def _token(self, token: str | None) -> str:
        raise NotImplementedError

    # -- the audit trail --------------------------------------------------------------

    async def events(
        self,
        after: str | None = None,
        limit: int | None = None,
        *,
        type: str | None = None,
        message: str | None = None,
        session: str | None = None,
        agent: str | None = None,
        token: str | None = None,
    ) -> EventPage:
        """The audit records this key may see, after the cursor ``after``."""
        call = _calls.events(
            self._token(token),
            after,
            limit,
            type=type,
            message=message,
            session=session,
            agent=agent,
        )
        return await self.call(call)

    async def message_history(self, message_id: str, *, token: str | None = None) -> MessageHistory:
        return await self.call(_calls.message_history(self._token(token), message_id))

    async def issue_auditor_key(self, *, token: str | None = None) -> AuditorKey:
        return await self.call(_calls.issue_auditor_key(self._token(token)))

    # -- replays -------------------------------------------------------------------

    async def replay_message(
        self,
        message_id: str,
        *,
        target: Literal["webhook", "inbox"] = "webhook",
        idempotency_key: str | None = None,
        token: str | None = None,
    ) -> Replay:
        """Hand a message the caller received out again (``target``: its webhook
        endpoint, or its inbox for one more claim)."""
        call = _calls.replay_message(
            self._token(token), message_id, target, idempotency_key=idempotency_key
        )
        return await self.call(call)

    async def start_replay(
        self,
        *,
        target: Literal["webhook", "inbox"] = "webhook",
        since: datetime | str | None = None,
        until: datetime | str | None = None,
        status: Sequence[str] | str | None = None,
        sender: str | None = None,
        session: str | None = None,
        rate_per_second: float | None = None,
        name: str | None = None,
        idempotency_key: str | None = None,
        token: str | None = None,
    ) -> Replay:
        """Hand out again the caller's messages that match the filter, at a rate."""
        call = _calls.start_replay(
            self._token(token),
            target=target,
            since=since,
            until=until,
            status=status,
            sender=sender,
            session=session,
            rate_per_second=rate_per_second,
            name=name,
            idempotency_key=idempotency_key,
        )
        return await self.call(call)

    async def replay(self, replay_id: str, *, token: str | None = None) -> Replay:
        return await self.call(_calls.replay(self._token(token), replay_id))

    async def cancel_replay(
        self, replay_id: str, *, idempotency_key: str | None = None, token: str | None = None
    ) -> Replay:
        call = _calls.cancel_replay(self._token(token), replay_id, idempotency_key=idempotency_key)
        return await self.call(call)
