"""One access line per request, the request id, and the request counters /metrics reads.

``observe_requests`` wraps the whole ASGI app, so it sees every exchange: routed or
not, answered by a handler, by the error table or by nobody (a client that left). It
fixes the request id before anything runs (the caller's ``x-request-id`` if it is
20-200 bytes long, as the reference's ``Plug.RequestId``, else a new one) and puts it
in the context, so every line logged while serving the request carries it. When the
exchange ends it counts it and logs one ``atp.access`` line: method, route template,
status, duration, response bytes, request id and principal id (never a token, never
the raw path or query, which a careless client could put a key in).

What it adds per request is kept small (the send path is hot): two clock reads, a
scan of the header list, two context variables, a few integer additions, and the
log record.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from contextvars import ContextVar
from time import perf_counter
from typing import Any

import attrs
from quart import Response, request

from atp.errors import UnexpectedError
from atp.observe import (
    REQUEST_ID,
    Histogram,
    HistogramSnapshot,
    describe_exception,
    new_request_id,
)

__all__ = [
    "UNMATCHED",
    "HttpStatistics",
    "HttpStats",
    "note_principal",
    "note_route",
    "observe_requests",
]

_ASGIApp = Callable[[MutableMapping[str, Any], Any, Any], Awaitable[None]]

UNMATCHED = "<unmatched>"  # the route of a request no route took (answered 404)
# Seconds; the send path's p50 is around a millisecond, long polls last up to 30 s.
_DURATION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
# A method is a label: anything else a client invents counts as "other", so that
# nobody can grow the metrics without bound.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_CLIENT_LEFT = 499  # nginx's "client closed request": no answer was started

log = logging.getLogger("atp.access")
_errors = logging.getLogger("atp.api")


@attrs.frozen
class HttpStatistics:
    """Requests so far by (method, route, status), durations by (method, route); the
    batch routes' items by (kind, status); the inbox streams open and what they pushed."""

    requests: tuple[tuple[tuple[str, str, int], int], ...]
    durations: tuple[tuple[tuple[str, str], HistogramSnapshot], ...]
    in_progress: int
    batch_items: tuple[tuple[tuple[str, int], int], ...] = ()
    streams_open: int = 0
    streamed: int = 0


class HttpStats:
    """Plain counters, fed once per request and read by a scrape."""

    def __init__(self) -> None:
        self.requests: dict[tuple[str, str, int], int] = {}
        self.durations: dict[tuple[str, str], Histogram] = {}
        self.in_progress = 0
        self.batch_items: dict[tuple[str, int], int] = {}
        self.streams_open = 0
        self.streamed = 0

    def count_items(self, kind: str, statuses: Iterable[int]) -> None:
        """Count a batch's items (``kind``: sends or acks) by their answer's status."""
        for status in statuses:
            key = (kind, status)
            self.batch_items[key] = self.batch_items.get(key, 0) + 1

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one finished request."""
        key = (method, route, status)
        self.requests[key] = self.requests.get(key, 0) + 1
        histogram = self.durations.get((method, route))
        if histogram is None:
            histogram = self.durations[method, route] = Histogram(_DURATION_BUCKETS)
        histogram.observe(seconds)

    def statistics(self) -> HttpStatistics:
        """A copy to report (the counters go on changing)."""
        return HttpStatistics(
            tuple(self.requests.items()),
            tuple((key, h.snapshot()) for key, h in self.durations.items()),
            self.in_progress,
            tuple(self.batch_items.items()),
            self.streams_open,
            self.streamed,
        )


class _Exchange:
    """What the app learns about a request that the access line reports."""

    __slots__ = ("method", "principal", "route")

    def __init__(self, method: str) -> None:
        self.method = method
        self.route: str | None = None
        self.principal: str | None = None


_EXCHANGE: ContextVar[_Exchange | None] = ContextVar("atp_exchange", default=None)


def note_principal(principal_id: str) -> None:
    """Record who the request authenticated as (its agent or account id)."""
    exchange = _EXCHANGE.get()
    if exchange is not None:
        exchange.principal = principal_id


async def note_route(response: Response) -> Response:
    """``after_request``: record the route template and method the request was served by
    (a ``_method`` override may have changed both since it arrived)."""
    exchange = _EXCHANGE.get()
    if exchange is not None:
        rule = request.url_rule
        exchange.route = rule.rule if rule is not None else None
        exchange.method = request.method
    return response


def _request_id(headers: list[tuple[bytes, bytes]]) -> str:
    for name, value in headers:
        if name == b"x-request-id":
            if 20 <= len(value) <= 200:
                return value.decode("latin-1")
            break
    return new_request_id()


_UNEXPECTED = json.dumps(UnexpectedError().envelope(), separators=(",", ":")).encode()


async def _answer_unexpected(send: Callable[[dict[str, Any]], Awaitable[None]], rid: str) -> None:
    """The contract's 500, for an exchange the app left without an answer."""
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(_UNEXPECTED)).encode()),
        (b"x-request-id", rid.encode("latin-1")),
    ]
    await send({"type": "http.response.start", "status": 500, "headers": headers})
    await send({"type": "http.response.body", "body": _UNEXPECTED})


def observe_requests(app: _ASGIApp, stats: HttpStats) -> _ASGIApp:
    """``app`` with a request id, an access line and counters for every HTTP request."""

    async def asgi(scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        started = perf_counter()
        request_id = _request_id(scope["headers"])
        exchange = _Exchange(scope["method"])
        id_token = REQUEST_ID.set(request_id)
        exchange_token = _EXCHANGE.set(exchange)
        status = 0
        size = 0

        async def observed_send(message: dict[str, Any]) -> None:
            nonlocal status, size
            if message["type"] == "http.response.body":
                size += len(message.get("body", b""))
            elif message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        stats.in_progress += 1
        try:
            await app(scope, receive, observed_send)
        except Exception as exc:
            # What escapes the app is a bug or a broken exchange. Logged here by class and
            # place, once: left to Hypercorn, it would log the traceback and the
            # exception's text, and answer 500 without the envelope or the request id.
            _errors.error("request failed (%s)", describe_exception(exc))
            if not status:
                with contextlib.suppress(Exception):  # the client may be gone
                    await _answer_unexpected(observed_send, request_id)
            status = status or 500
        finally:
            stats.in_progress -= 1
            seconds = perf_counter() - started
            method = exchange.method if exchange.method in _METHODS else "other"
            route = exchange.route or UNMATCHED
            status = status or _CLIENT_LEFT
            stats.observe(method, route, status, seconds)
            if log.isEnabledFor(logging.INFO):
                log.info(
                    "%s %s %d",
                    method,
                    route,
                    status,
                    extra={
                        "method": method,
                        "route": route,
                        "status": status,
                        "duration_ms": round(seconds * 1000, 3),
                        "bytes": size,
                        "principal": exchange.principal,
                    },
                )
            _EXCHANGE.reset(exchange_token)
            REQUEST_ID.reset(id_token)

    return asgi
