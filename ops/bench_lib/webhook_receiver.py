"""Webhook mode's receiver: a bare HTTP/1.1 server in the bench process.

It listens on 127.0.0.1, one port per recipient, so each recipient is its own origin,
as distinct receivers are in real life. It reads a request, notes when its last byte
arrived (``time.perf_counter``, the clock the senders use too) and its
``atp-message-id``, and answers ``200`` with an empty body (or a fixed one: an A2A
server's answer, for ``ops/a2a_latency.py``). No framework and no
validation beyond framing, so that the receiver adds as little as it can to the
latency it measures.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable

import trio

from bench_lib.http import HOST, ProtocolError

__all__ = ["Receiver"]

_MAX_HEAD = 64 * 1024
_MAX_BODY = 1024 * 1024


class Receiver:
    """The webhook receiver: records the first arrival of each message id."""

    def __init__(self, answer: bytes = b"") -> None:
        self._answer = b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n" % len(answer)
        if answer:
            self._answer += b"content-type: application/json\r\n"
        self._answer += b"\r\n" + answer
        self.arrivals: dict[str, float] = {}  # message id -> perf_counter at arrival
        self.requests = 0
        self.duplicates = 0
        self.unmatched = 0  # requests without an atp-message-id
        self.errors: Counter[str] = Counter()
        self.connections = 0
        self.on_arrival: Callable[[str], None] | None = None
        self._listeners: list[trio.SocketListener] = []

    async def open(self, count: int) -> list[int]:
        """Listen on ``count`` ephemeral ports of 127.0.0.1; their numbers."""
        for _ in range(count):
            self._listeners += await trio.open_tcp_listeners(0, host=HOST)
        return [listener.socket.getsockname()[1] for listener in self._listeners]

    async def serve(self) -> None:
        """Serve every listener until cancelled (call ``open`` first)."""
        await trio.serve_listeners(self._handle, self._listeners)

    async def _handle(self, stream: trio.SocketStream) -> None:
        self.connections += 1
        buffer = bytearray()
        arrived = time.perf_counter()
        try:
            while True:
                # Head: up to the blank line. The arrival time is when the request's last
                # byte was read (usually the whole request comes in one read).
                while (end := buffer.find(b"\r\n\r\n")) < 0:
                    if len(buffer) > _MAX_HEAD:
                        raise ProtocolError("request head too large")
                    if not await _fill(stream, buffer):
                        return  # the client closed between requests
                    arrived = time.perf_counter()
                head = bytes(buffer[:end]).decode("latin-1")
                del buffer[: end + 4]
                length, message_id, close = _parse_head(head)
                while len(buffer) < length:
                    if not await _fill(stream, buffer):
                        raise ProtocolError("closed inside a body")
                    arrived = time.perf_counter()
                del buffer[:length]
                self._record(message_id, arrived)
                await stream.send_all(self._answer)
                if close:
                    return
        except (ProtocolError, ValueError) as exc:
            self.errors[f"{type(exc).__name__}: {str(exc)[:80]}"] += 1
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as exc:
            self.errors[type(exc).__name__] += 1
        finally:
            with trio.CancelScope(shield=True):
                await trio.aclose_forcefully(stream)

    def _record(self, message_id: str | None, arrived: float) -> None:
        self.requests += 1
        if message_id is None:
            self.unmatched += 1
        elif message_id in self.arrivals:
            self.duplicates += 1
        else:
            self.arrivals[message_id] = arrived
            if self.on_arrival is not None:
                self.on_arrival(message_id)


async def _fill(stream: trio.SocketStream, buffer: bytearray) -> bool:
    chunk = await stream.receive_some(65536)
    buffer += chunk
    return bool(chunk)


def _parse_head(head: str) -> tuple[int, str | None, bool]:
    """``(content_length, atp_message_id, close)`` of a request head.

    Raises:
        ProtocolError: not an HTTP/1.1 request with a Content-Length body.
    """
    request_line, *lines = head.split("\r\n")
    if not request_line.endswith(" HTTP/1.1"):
        raise ProtocolError(f"unexpected request line {request_line[:60]!r}")
    length, message_id, close = 0, None, False
    for line in lines:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "atp-message-id":
            message_id = value.strip()
        elif name == "connection":
            close = value.strip().lower() == "close"
        elif name == "transfer-encoding":
            raise ProtocolError("chunked request bodies are not expected")
    if not 0 <= length <= _MAX_BODY:
        raise ProtocolError(f"bad Content-Length {length}")
    return length, message_id, close
