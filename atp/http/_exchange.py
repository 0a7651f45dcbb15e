"""Each HTTP exchange driven to its end: the request body in before the answer goes out,
and the answer's last message sent whole.

Why (issue 19; the upstream report is ``ops/upstream/README.md``). Hypercorn 0.18
finishes an HTTP/1.1 exchange *inside* the app's last ``send``: it writes the end of
the answer, hands the app ``http.disconnect``, and then either recycles the connection
for the next request (restarting its keep-alive timer) or closes it (when either side
asked to, or when the request body has not all arrived). Quart-Trio 0.12 cancels the
request handler as soon as its receiver task gets ``http.disconnect``, so that
bookkeeping is cancelled at its next checkpoint, half done:

- after an answer sent before the request body had all arrived (a 422 for a content
  type the route does not read, a GET with a body), the close is cancelled: the
  connection stays open, Hypercorn reads no more requests from it, and the client's
  next request on it waits until the client gives up;
- after every other answer, the keep-alive timer is never restarted, so an idle
  connection is never closed, and neither is one whose request said
  ``Connection: close`` or was HTTP/1.0.

``guard_exchanges`` removes both causes, per exchange:

1. The answer waits for the request body. Quart's receiver task reads the body whether
   or not the route does; until it has all arrived the start of the answer is held,
   for at most ``body_timeout``, so that Hypercorn can recycle the connection. A body
   still missing then gets the answer with ``Connection: close``. (A route that reads
   the body waits in Quart, whose ``BODY_TIMEOUT`` is the same setting: a 408.)
2. The ``http.disconnect`` that Hypercorn hands over from inside the answer's last
   ``send`` reaches the app only once that ``send`` has returned, so Quart-Trio no
   longer cancels it and Hypercorn's bookkeeping completes. (Shielding the last
   ``send`` from cancellation works too, but a cancel scope costs as much as a
   checkpoint, several microseconds a request; an event set once costs a tenth.)
3. ``trio.BusyResourceError`` from a send means Hypercorn's reader task is closing the
   socket after a protocol error from the client (it sends the EOF outside the lock
   that guards writes). The answer has nowhere to go, as after a disconnect, which
   Hypercorn swallows too; letting it out would log a traceback per such request.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import cast

import trio
from hypercorn.typing import (
    ASGIFramework,
    ASGIReceiveCallable,
    ASGIReceiveEvent,
    ASGISendCallable,
    ASGISendEvent,
    HTTPResponseStartEvent,
    HTTPScope,
    Scope,
)

__all__ = ["guard_exchanges"]


def guard_exchanges(app: ASGIFramework, *, body_timeout: float) -> ASGIFramework:
    """``app``, each of whose HTTP exchanges ends as Hypercorn expects (see the module).

    Args:
        app: the ASGI application (Quart-Trio's ``asgi_app``).
        body_timeout: how long an answer waits for the rest of an unread request body.
    """

    async def guarded(scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        exchange = _Exchange(scope, receive, send, body_timeout)
        await app(scope, exchange.receive, exchange.send)

    return guarded


class _Exchange:
    """One request and its answer, as the app sees them."""

    __slots__ = (
        "_arrived",
        "_body_done",
        "_body_timeout",
        "_finished",
        "_receive",
        "_scope",
        "_send",
    )

    def __init__(
        self,
        scope: HTTPScope,
        receive: ASGIReceiveCallable,
        send: ASGISendCallable,
        body_timeout: float,
    ) -> None:
        self._scope = scope
        self._receive = receive
        self._send = send
        self._body_timeout = body_timeout
        self._body_done = False  # the body has all arrived, or never will (disconnect)
        self._arrived: trio.Event | None = None  # made only when an answer waits
        self._finished: trio.Event | None = None  # made when the last answer message goes

    async def receive(self) -> ASGIReceiveEvent:
        message = await self._receive()
        if not message.get("more_body", False):
            self._body_done = True
            if self._arrived is not None:
                self._arrived.set()
            finished = self._finished
            if finished is not None and not finished.is_set():
                # A disconnect sent from inside the last send (point 2 above).
                await finished.wait()
        return message

    async def send(self, message: ASGISendEvent) -> None:
        try:
            if message["type"] == "http.response.start":
                if not self._body_done and _has_body(self._scope):
                    message = await self._after_body(message)
                await self._send(message)
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                self._finished = trio.Event()
                try:
                    await self._send(message)
                finally:
                    self._finished.set()
            else:
                await self._send(message)
        except trio.BusyResourceError:
            pass  # the server is closing the connection (see the module, point 3)

    async def _after_body(self, start: HTTPResponseStartEvent) -> HTTPResponseStartEvent:
        """``start`` once the request body is in, or with ``Connection: close`` if it
        is not in within the body timeout (or if ``start`` closes the connection anyway)."""
        headers: Iterable[tuple[bytes, bytes]] = start.get("headers", ())
        if _closes(headers):
            return start
        self._arrived = trio.Event()
        with trio.move_on_after(self._body_timeout):
            await self._arrived.wait()
        if self._body_done:
            return start
        return cast(
            HTTPResponseStartEvent, {**start, "headers": [*headers, (b"connection", b"close")]}
        )


def _has_body(scope: HTTPScope) -> bool:
    """Whether the request has a body at all. Without one, h11 ends the request with its
    headers, so there is nothing to wait for, although the app may not have read the
    (empty) end of it yet when it answers."""
    for name, value in scope["headers"]:  # h11 gives the names in lower case
        if name == b"transfer-encoding" or (name == b"content-length" and value.strip(b"0 ")):
            return True
    return False


def _closes(headers: Iterable[tuple[bytes, bytes]]) -> bool:
    return any(
        name.lower() == b"connection" and b"close" in value.lower() for name, value in headers
    )
