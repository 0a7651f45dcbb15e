"""The connection cap: at most ``limit`` connections at once, the excess refused at once,
and a bounded log however many are refused or fail to be accepted.

Refusing fast is the point: a connection over the cap is accepted, answered
``503 server_busy`` with ``Connection: close`` and ``Retry-After``, and closed, without
reading its request, so its client learns at once and retries (the client library
retries any 5xx with the same idempotency key). Left in the kernel's queue it would wait
until its own timeout, and a health check with it. The cap sits below the open-files
limit (``_limits.py``), so ``accept`` itself does not fail; if it does (EMFILE because
something else holds descriptors), the accept loop waits a moment and tries again.

Each kind of trouble is logged as one line per ``LOG_INTERVAL`` with a count, never a
traceback: under attack or overload the log must not become the next thing to fill up
(trio's own accept loop logs a traceback every 100 ms while EMFILE lasts).
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import math
from collections.abc import Iterable, Iterator

import trio
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from atp.errors import ServerBusy
from atp.observe import new_request_id
from atp.settings import SECONDS

__all__ = [
    "ACCEPT_RETRY",
    "CAPACITY_ERRNOS",
    "LOG_INTERVAL",
    "ConnectionGate",
    "GateCollector",
    "Tally",
]

log = logging.getLogger("atp.http")

LOG_INTERVAL = 10 * SECONDS
ACCEPT_RETRY = 0.1 * SECONDS  # after an accept that failed for want of resources
# A fresh connection's send buffer is empty, so the refusal never waits; this only
# bounds the unthinkable.
_REFUSAL_SEND_TIMEOUT = 1 * SECONDS
# accept() errors that mean "out of descriptors or memory", not "this listener is broken".
CAPACITY_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.ENOBUFS})

_REFUSAL_BODY = json.dumps(ServerBusy().envelope(), separators=(",", ":")).encode()
_REFUSAL_HEAD = (
    b"HTTP/1.1 503 Service Unavailable\r\n"
    b"content-type: application/json\r\n"
    b"content-length: %d\r\n"
    b"connection: close\r\n"
    b"retry-after: 1\r\n"
    b"x-request-id: " % len(_REFUSAL_BODY)
)


def _refusal() -> bytes:
    """The 503 answer, with a request id of its own like every answer (contract §1.0)."""
    return _REFUSAL_HEAD + new_request_id().encode() + b"\r\n\r\n" + _REFUSAL_BODY


class Tally:
    """Counts events and says when a log line is due: the first event, then at most one
    line per ``interval``, each with the count since the last line."""

    def __init__(self, interval: float = LOG_INTERVAL) -> None:
        self.interval = interval
        self.total = 0
        self._since_line = 0
        self._line_at = -math.inf

    def note(self) -> int | None:
        """Count one event; return the count to log if a line is due, else None."""
        self.total += 1
        self._since_line += 1
        now = trio.current_time()
        if now - self._line_at < self.interval:
            return None
        count, self._since_line, self._line_at = self._since_line, 0, now
        return count


class ConnectionGate:
    """Admits connections up to ``limit`` at once; refuses the rest."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.open = 0
        self.refused = Tally()
        self.accept_failures = Tally()
        self.failures = Tally()

    def admit(self) -> bool:
        """Take a place for a new connection, if there is one (pair with :meth:`release`)."""
        if self.open >= self.limit:
            return False
        self.open += 1
        return True

    def release(self) -> None:
        """Give back the place of a connection that has closed."""
        self.open -= 1

    async def refuse(self, stream: trio.SocketStream) -> None:
        """Answer ``503 server_busy`` on ``stream`` and close it, without reading it."""
        count = self.refused.note()
        if count is not None:
            log.warning(
                "at the connection limit (%d): refused %d connection(s) in the last %.0f s",
                self.limit,
                count,
                self.refused.interval,
            )
        with trio.move_on_after(_REFUSAL_SEND_TIMEOUT):
            with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
                await stream.send_all(_refusal())  # unless the client has gone already
        await stream.aclose()

    def connection_failed(self, error: Exception) -> None:
        """Count a connection that ended in an error instead of a close (by class only:
        the text may quote a request)."""
        count = self.failures.note()
        if count is not None:
            log.error(
                "a connection ended in an error (%s): %d in the last %.0f s",
                ", ".join(sorted(_leaf_names(error))),
                count,
                self.failures.interval,
            )

    def accept_failed(self, error: OSError) -> None:
        """Count an ``accept`` that failed for want of resources (the caller retries)."""
        count = self.accept_failures.note()
        if count is not None:
            name = errno.errorcode.get(error.errno or 0, str(error.errno))
            log.error(
                "cannot accept connections (%s: %s): %d time(s) in the last %.0f s;"
                " %d connection(s) open, limit %d",
                name,
                error.strerror,
                count,
                self.accept_failures.interval,
                self.open,
                self.limit,
            )


class GateCollector(Collector):
    """The gate's counts for ``/metrics``, read at each scrape (the app's registry holds
    it beside the carrier's collector; the gate lives outside the app)."""

    def __init__(self, gate: ConnectionGate) -> None:
        self.gate = gate

    def describe(self) -> Iterable[Metric]:
        """Nothing to describe ahead."""
        return []

    def collect(self) -> Iterator[Metric]:
        """Connections open, the cap, and what was refused or failed."""
        gate = self.gate
        yield GaugeMetricFamily("atp_http_connections_open", "HTTP connections open.", gate.open)
        yield GaugeMetricFamily(
            "atp_http_connections_limit", "HTTP connections held at most.", gate.limit
        )
        for name, doc, tally in (
            ("atp_http_connections_refused", "Connections refused at the limit.", gate.refused),
            (
                "atp_http_accept_failures",
                "Accepts failed for want of resources.",
                gate.accept_failures,
            ),
            ("atp_http_connection_errors", "Connections that ended in an error.", gate.failures),
        ):
            yield CounterMetricFamily(name, doc, value=tally.total)


def _leaf_names(error: BaseException) -> set[str]:
    if isinstance(error, BaseExceptionGroup):
        return {name for inner in error.exceptions for name in _leaf_names(inner)}
    return {type(error).__name__}
