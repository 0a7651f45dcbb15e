"""``Client`` (blocking) and ``AsyncClient`` (under Trio), both over httpx.

Both send the calls of ``_calls`` and read their answers the same way. A call whose
answer was lost (a connection error, a 5xx, or the carrier still working on the same
key) is sent again with the *same* idempotency key, so it acts at most once; an error
answer raises the contract's error as its ``atp.errors`` class.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from types import TracebackType
from typing import Any, TypeVar

import anyio
import httpx

from atp.client import _calls
from atp.client._calls import Call
from atp.client._events import EventDecoder, SessionEvent, read_events
from atp.client._results import AccountCreated, AgentCreated, Claim, MessageStatus, SessionView
from atp.errors import AtpError, error_for_code

__all__ = ["AsyncClient", "Client"]

T = TypeVar("T")
_RETRIES = 3
_BACKOFF = 0.2  # seconds, doubled per retry
# The stream sends a heartbeat every 15 s: three missed ones mean the connection is gone.
_STREAM_TIMEOUT = httpx.Timeout(10, read=45)


def _headers(call: Call[Any]) -> dict[str, str]:
    headers = {}
    if call.token is not None:
        headers["authorization"] = f"Bearer {call.token}"
    if call.idempotency_key is not None:
        headers["idempotency-key"] = call.idempotency_key
    return headers


def _retryable(response: httpx.Response) -> bool:
    if response.status_code >= 500:
        return True
    return response.status_code == 409 and _code(response) == "idempotency_in_progress"


def _code(response: httpx.Response) -> str:
    return _error_field(response, "code") or "unexpected_error"


def _error_field(response: httpx.Response, name: str) -> str | None:
    try:
        return str(response.json()["error"][name])
    except (ValueError, KeyError, TypeError):
        return None


def _raise_for_error(response: httpx.Response) -> None:
    """Raise the contract's error for an error answer, as its ``atp.errors`` class.

    The text says what the server said: ``server returned 404 not_found: <message>``.
    """
    if response.status_code < 400:
        return
    code, message = _error_field(response, "code"), _error_field(response, "message")
    text = f"server returned {response.status_code}"
    if code is not None:
        text += f" {code}" + (f": {message}" if message else "")
    raise error_for_code(code or "unexpected_error")(text)


def _api_key(given: str | None, default: str | None) -> str:
    chosen = given or default
    if chosen is None:
        raise ValueError("no API key: pass token= here or to the client")
    return chosen


def _settled(attempt: int, response: httpx.Response) -> bool:
    """Whether this answer is final: not one to retry, or the retries are used up."""
    return attempt == _RETRIES or not _retryable(response)


class _Reconnects:
    """When to reopen a session's stream: after a short pause, longer after each failure."""

    def __init__(self) -> None:
        self.failures = 0  # in a row; an event resets it

    @property
    def delay(self) -> float:
        return _BACKOFF * 2.0**self.failures

    def lost(self, error: httpx.TransportError) -> None:
        """Count a lost connection; raise ``error`` once the retries are used up."""
        self.failures += 1
        if self.failures > _RETRIES:
            raise error


def _read(call: Call[T], response: httpx.Response) -> T:
    _raise_for_error(response)
    return call.read(response.json())


class Client:
    """A blocking client. ``token`` is the default key; each method may take another."""

    def __init__(self, base_url: str, token: str | None = None, *, timeout: float = 30) -> None:
        self.token = token
        self._http = httpx.Client(base_url=base_url, timeout=timeout)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def call(self, call: Call[T]) -> T:
        """Send ``call`` (retrying with its own key when the answer was lost) and read it."""
        for attempt in range(_RETRIES + 1):
            try:
                response = self._http.request(
                    call.method, call.path, json=call.json, headers=_headers(call)
                )
            except httpx.TransportError:
                if attempt == _RETRIES:
                    raise
            else:
                if _settled(attempt, response):
                    return _read(call, response)
            time.sleep(_BACKOFF * 2**attempt)
        raise AtpError("unreachable")

    def _token(self, token: str | None) -> str:
        return _api_key(token, self.token)

    def signup(self, name: str) -> AccountCreated:
        return self.call(_calls.signup(name))

    def create_agent(
        self, display_name: str | None = None, *, token: str | None = None
    ) -> AgentCreated:
        return self.call(_calls.create_agent(self._token(token), display_name))

    def send(self, to: str, payload: dict[str, Any], *, token: str | None = None) -> MessageStatus:
        return self.call(_calls.send(self._token(token), to, payload))

    def status(self, message_id: str, *, token: str | None = None) -> MessageStatus:
        return self.call(_calls.status(self._token(token), message_id))

    def claim(
        self, lease_seconds: int = 60, wait_seconds: int = 0, *, token: str | None = None
    ) -> Claim | None:
        return self.call(_calls.claim(self._token(token), lease_seconds, wait_seconds))

    def ack(
        self,
        delivery_id: str,
        status: str,
        payload: dict[str, Any] | None = None,
        *,
        token: str | None = None,
    ) -> MessageStatus:
        return self.call(_calls.ack(self._token(token), delivery_id, status, payload))

    def open_session(
        self, to: str, payload: dict[str, Any], *, token: str | None = None
    ) -> SessionView:
        return self.call(_calls.open_session(self._token(token), to, payload))

    def answer_session(
        self,
        session_id: str,
        accept: bool = True,
        payload: dict[str, Any] | None = None,
        *,
        token: str | None = None,
    ) -> SessionView:
        call = _calls.answer_session(self._token(token), session_id, accept, payload)
        return self.call(call)

    def send_turn(
        self, session_id: str, payload: dict[str, Any], *, token: str | None = None
    ) -> SessionView:
        return self.call(_calls.send_turn(self._token(token), session_id, payload))

    def session(self, session_id: str, *, token: str | None = None) -> SessionView:
        return self.call(_calls.session(self._token(token), session_id))

    def follow_session(
        self, session_id: str, after: int = 0, *, token: str | None = None
    ) -> Iterator[SessionEvent]:
        """The session's events after event ``after``, as they happen, until it ends.

        A lost connection is reopened from the last event seen, so none is missed or
        repeated. Raises ``NotFound`` for an unknown session, and also from a carrier
        without streams (the reference carrier): poll :meth:`session` there.
        """
        headers = _headers(_calls.session(self._token(token), session_id))
        reconnects = _Reconnects()
        while True:
            headers["last-event-id"] = str(after)
            try:
                with self._http.stream(
                    "GET", f"/api/sessions/{session_id}/stream",
                    headers=headers, timeout=_STREAM_TIMEOUT,
                ) as response:  # fmt: skip
                    if response.status_code >= 400:
                        response.read()
                        _raise_for_error(response)
                    for event in read_events(response.iter_lines()):
                        reconnects.failures, after = 0, event.id
                        yield event
                        if event.is_final:
                            return
            except httpx.TransportError as exc:
                reconnects.lost(exc)
            time.sleep(reconnects.delay)


class AsyncClient:
    """The same calls as ``Client``, awaited; it runs under Trio."""

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
        for attempt in range(_RETRIES + 1):
            try:
                response = await self._http.request(
                    call.method, call.path, json=call.json, headers=_headers(call)
                )
            except httpx.TransportError:
                if attempt == _RETRIES:
                    raise
            else:
                if _settled(attempt, response):
                    return _read(call, response)
            await anyio.sleep(_BACKOFF * 2**attempt)
        raise AtpError("unreachable")

    def _token(self, token: str | None) -> str:
        return _api_key(token, self.token)

    async def signup(self, name: str) -> AccountCreated:
        return await self.call(_calls.signup(name))

    async def create_agent(
        self, display_name: str | None = None, *, token: str | None = None
    ) -> AgentCreated:
        return await self.call(_calls.create_agent(self._token(token), display_name))

    async def send(
        self, to: str, payload: dict[str, Any], *, token: str | None = None
    ) -> MessageStatus:
        return await self.call(_calls.send(self._token(token), to, payload))

    async def status(self, message_id: str, *, token: str | None = None) -> MessageStatus:
        return await self.call(_calls.status(self._token(token), message_id))

    async def claim(
        self, lease_seconds: int = 60, wait_seconds: int = 0, *, token: str | None = None
    ) -> Claim | None:
        return await self.call(_calls.claim(self._token(token), lease_seconds, wait_seconds))

    async def ack(
        self,
        delivery_id: str,
        status: str,
        payload: dict[str, Any] | None = None,
        *,
        token: str | None = None,
    ) -> MessageStatus:
        return await self.call(_calls.ack(self._token(token), delivery_id, status, payload))

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

    async def session(self, session_id: str, *, token: str | None = None) -> SessionView:
        return await self.call(_calls.session(self._token(token), session_id))

    async def follow_session(
        self, session_id: str, after: int = 0, *, token: str | None = None
    ) -> AsyncIterator[SessionEvent]:
        """As :meth:`Client.follow_session`; close it early with ``contextlib.aclosing``."""
        headers = _headers(_calls.session(self._token(token), session_id))
        reconnects = _Reconnects()
        while True:
            headers["last-event-id"] = str(after)
            try:
                async with self._http.stream(
                    "GET", f"/api/sessions/{session_id}/stream",
                    headers=headers, timeout=_STREAM_TIMEOUT,
                ) as response:  # fmt: skip
                    if response.status_code >= 400:
                        await response.aread()
                        _raise_for_error(response)
                    decoder = EventDecoder()
                    async for line in response.aiter_lines():
                        event = decoder.feed(line)
                        if event is None:
                            continue
                        reconnects.failures, after = 0, event.id
                        yield event
                        if event.is_final:
                            return
            except httpx.TransportError as exc:
                reconnects.lost(exc)
            await anyio.sleep(reconnects.delay)
