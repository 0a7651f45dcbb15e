"""``AsyncClient``: ``Client``'s methods, awaited, under Trio or asyncio (via anyio)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from types import TracebackType
from typing import Any, Literal, TypeVar

import anyio
import httpx

from atp.client import _calls
from atp.client._async_history import AsyncClientHistory
from atp.client._batches import BatchResult
from atp.client._call import Call
from atp.client._events import SessionEvent, aread_events
from atp.client._http import (
    RETRIES,
    STREAM_TIMEOUT,
    Reconnects,
    api_key,
    pause,
    raise_for_error,
    read,
    request_headers,
    settled,
    stream_path,
)
from atp.client._identity import (
    AccountCreated,
    Agent,
    AgentCreated,
    AgentKey,
    SenderPolicy,
    SigningKeys,
    WebhookEndpoint,
)
from atp.client._inbox_stream import afollow_inbox
from atp.client._results import (
    Claim,
    DeadLetterPage,
    Health,
    MessageStatus,
    Readiness,
    SessionPage,
    SessionView,
    Workflow,
)
from atp.errors import AtpError

__all__ = ["AsyncClient"]

T = TypeVar("T")


class AsyncClient(AsyncClientHistory):
    """The same calls as ``Client``, awaited, under Trio or asyncio."""

    def __init__(self, base_url: str, token: str | None = None, *, timeout: float = 30) -> None:
        self.token = token
        self._http = httpx.AsyncClient(base_url=base_url, timeout=timeout)

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self, *exc: type[BaseException] | BaseException | TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def call(self, call: Call[T]) -> T:
        """Send ``call`` (retrying with its own key when the answer was lost) and read it."""
        for attempt in range(RETRIES + 1):
            response = None
            try:
                response = await self._http.request(
                    call.method,
                    call.path,
                    json=call.json,
                    params=call.params,
                    headers=request_headers(call),
                )
            except httpx.TransportError:
                if attempt == RETRIES:
                    raise
            else:
                if settled(attempt, call, response):
                    return read(call, response)
            await anyio.sleep(pause(attempt, response))
        raise AtpError("unreachable")

    def _token(self, token: str | None) -> str:
        return api_key(token, self.token)

    # -- the carrier ----------------------------------------------------------------

    async def health(self) -> Health:
        return await self.call(_calls.health())

    async def ready(self) -> Readiness:
        """Whether the carrier can serve; ``ready`` is False (not an error) on a 503."""
        return await self.call(_calls.ready())

    # -- accounts, agents and keys --------------------------------------------------

    async def signup(self, name: str) -> AccountCreated:
        return await self.call(_calls.signup(name))

    async def create_agent(
        self,
        display_name: str | None = None,
        description: str | None = None,
        *,
        name: str | None = None,
        token: str | None = None,
    ) -> AgentCreated:
        call = _calls.create_agent(self._token(token), display_name, description, name)
        return await self.call(call)

    async def agent(self, agent_id: str, *, token: str | None = None) -> Agent:
        """An agent of the account whose key is ``token``."""
        return await self.call(_calls.agent(self._token(token), agent_id))

    async def rotate_agent_key(self, agent_id: str, *, token: str | None = None) -> AgentKey:
        """A new key for the agent (with the account's key); older keys stop at once."""
        return await self.call(_calls.rotate_agent_key(self._token(token), agent_id))

    # -- what an agent sets on itself -----------------------------------------------

    async def set_webhook_endpoint(
        self,
        agent_id: str,
        url: str,
        *,
        authentication: tuple[str, str] | None = None,
        token: str | None = None,
    ) -> WebhookEndpoint:
        call = _calls.set_webhook_endpoint(self._token(token), agent_id, url, authentication)
        return await self.call(call)

    async def rotate_signing_key(
        self, agent_id: str, overlap_seconds: int | None = None, *, token: str | None = None
    ) -> SigningKeys:
        call = _calls.rotate_signing_key(self._token(token), agent_id, overlap_seconds)
        return await self.call(call)

    async def signing_keys(self, agent_id: str, *, token: str | None = None) -> SigningKeys:
        return await self.call(_calls.signing_keys(self._token(token), agent_id))

    async def set_sender_policy(
        self,
        agent_id: str,
        effect: Literal["allow", "block"],
        *,
        sender_agent_id: str | None = None,
        sender_account_id: str | None = None,
        token: str | None = None,
    ) -> SenderPolicy:
        call = _calls.set_sender_policy(
            self._token(token),
            agent_id,
            effect,
            sender_agent_id=sender_agent_id,
            sender_account_id=sender_account_id,
        )
        return await self.call(call)

    # -- messages, claims and ACKs --------------------------------------------------

    async def send(
        self, to: _calls.Recipients, payload: dict[str, Any], *, token: str | None = None
    ) -> _calls.Sent:
        return await self.call(_calls.send(self._token(token), to, payload))

    async def ack_batch(
        self, acks: Sequence[dict[str, Any]], *, token: str | None = None
    ) -> tuple[BatchResult, ...]:
        """ACK many deliveries in one request; see ``calls.ack_batch``."""
        return await self.call(_calls.ack_batch(self._token(token), acks))

    async def send_batch(
        self, messages: Sequence[dict[str, Any]], *, token: str | None = None
    ) -> tuple[BatchResult, ...]:
        """Send many messages in one request; see ``calls.send_batch``."""
        return await self.call(_calls.send_batch(self._token(token), messages))

    async def status(self, message_id: str, *, token: str | None = None) -> MessageStatus:
        return await self.call(_calls.status(self._token(token), message_id))

    async def claim(
        self, lease_seconds: int = 60, wait_seconds: int = 0, *, token: str | None = None
    ) -> Claim | None:
        return await self.call(_calls.claim(self._token(token), lease_seconds, wait_seconds))

    async def claim_batch(
        self, most: int, lease_seconds: int = 60, wait_seconds: int = 0, *, token: str | None = None
    ) -> tuple[Claim, ...]:
        """Claim up to ``most`` messages in one request; see ``calls.claim_batch``."""
        call = _calls.claim_batch(self._token(token), most, lease_seconds, wait_seconds)
        return await self.call(call)

    async def extend_lease(
        self, delivery_id: str, lease_seconds: int = 60, *, token: str | None = None
    ) -> Claim:
        return await self.call(_calls.extend_lease(self._token(token), delivery_id, lease_seconds))

    async def ack(
        self,
        delivery_id: str,
        status: str,
        payload: dict[str, Any] | None = None,
        *,
        token: str | None = None,
    ) -> MessageStatus:
        return await self.call(_calls.ack(self._token(token), delivery_id, status, payload))

    # -- dead letters ---------------------------------------------------------------

    async def dead_letters(
        self, after: str | None = None, limit: int | None = None, *, token: str | None = None
    ) -> DeadLetterPage:
        return await self.call(_calls.dead_letters(self._token(token), after, limit))

    async def redrive_dead_letter(
        self, message_id: str, *, token: str | None = None
    ) -> MessageStatus:
        return await self.call(_calls.redrive_dead_letter(self._token(token), message_id))

    async def release_dead_letter(
        self, message_id: str, *, token: str | None = None
    ) -> MessageStatus:
        return await self.call(_calls.release_dead_letter(self._token(token), message_id))

    # -- AMTP workflows --------------------------------------------------------------

    async def workflow(self, workflow_id: str, *, token: str | None = None) -> Workflow:
        return await self.call(_calls.workflow(self._token(token), workflow_id))

    # -- sessions -------------------------------------------------------------------

    async def open_session(
        self, to: str, payload: dict[str, Any], *, token: str | None = None
    ) -> SessionView:
        return await self.call(_calls.open_session(self._token(token), to, payload))

    async def answer_session(
        self,
        session_id: str,
        accept: bool = True,
        payload: dict[str, Any] | None = None,
        *,
        token: str | None = None,
    ) -> SessionView:
        call = _calls.answer_session(self._token(token), session_id, accept, payload)
        return await self.call(call)

    async def send_turn(
        self, session_id: str, payload: dict[str, Any], *, token: str | None = None
    ) -> SessionView:
        return await self.call(_calls.send_turn(self._token(token), session_id, payload))

    async def close_session(self, session_id: str, *, token: str | None = None) -> SessionView:
        return await self.call(_calls.close_session(self._token(token), session_id))

    async def session(
        self,
        session_id: str,
        after_sequence: int | None = None,
        limit: int | None = None,
        *,
        token: str | None = None,
    ) -> SessionView:
        call = _calls.session(self._token(token), session_id, after_sequence, limit)
        return await self.call(call)

    async def sessions(
        self,
        status: str | None = None,
        after: str | None = None,
        limit: int | None = None,
        *,
        token: str | None = None,
    ) -> SessionPage:
        return await self.call(_calls.sessions(self._token(token), status, after, limit))

    async def stream_inbox(
        self, credit: int = 10, lease_seconds: int = 30, *, token: str | None = None
    ) -> AsyncIterator[Claim]:
        """Deliveries pushed as they arrive, ``credit`` unACKed at most; see ``afollow_inbox``."""
        async for claim in afollow_inbox(self._http, self._token(token), credit, lease_seconds):
            yield claim

    async def follow_session(
        self, session_id: str, after: int = 0, *, token: str | None = None
    ) -> AsyncIterator[SessionEvent]:
        """As :meth:`Client.follow_session`; close it early with ``contextlib.aclosing``."""
        headers = request_headers(_calls.session(self._token(token), session_id))
        reconnects = Reconnects()
        while True:
            headers["last-event-id"] = str(after)
            try:
                async with self._http.stream(
                    "GET", stream_path(session_id), headers=headers, timeout=STREAM_TIMEOUT
                ) as response:
                    if response.status_code >= 400:
                        await response.aread()
                        raise_for_error(response)
                    async for event in aread_events(response.aiter_lines()):
                        reconnects.failures, after = 0, event.id
                        yield event
                        if event.is_final:
                            return
            except httpx.TransportError as exc:
                reconnects.lost(exc)
            await anyio.sleep(reconnects.delay)
