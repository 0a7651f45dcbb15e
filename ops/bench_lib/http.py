"""A minimal HTTP/1.1 keep-alive client on trio sockets, light enough to be a load generator.

Requests are pre-built bytes; a response is read as its status line, its headers (only
``Content-Length``, ``Transfer-Encoding`` and ``Connection`` matter) and its body.
Only 127.0.0.1 is ever a target.
"""

from __future__ import annotations

import json
from typing import Any

import trio

__all__ = ["HOST", "Connection", "ProtocolError", "build_request", "json_request"]

HOST = "127.0.0.1"
_MAX_HEAD = 64 * 1024
_MAX_BODY = 16 * 1024 * 1024


class ProtocolError(Exception):
    """The peer closed the connection or answered something that is not HTTP/1.1."""


def build_request(
    method: str, path: str, port: int, headers: dict[str, str], body: bytes = b""
) -> bytes:
    """The bytes of one request; a body gets a ``Content-Length``."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {HOST}:{port}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    if body or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def json_request(
    method: str,
    path: str,
    port: int,
    body: dict[str, Any] | None = None,
    *,
    token: str | None = None,
    idempotency_key: str | None = None,
) -> bytes:
    """A JSON request with optional bearer token and idempotency key."""
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if idempotency_key is not None:
        headers["Idempotency-Key"] = idempotency_key
    data = b"" if body is None else json.dumps(body, separators=(",", ":")).encode()
    return build_request(method, path, port, headers, data)


class Connection:
    """One keep-alive connection, opened lazily; reopened after the server closes it."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.connects = 0
        self._stream: trio.SocketStream | None = None
        self._buffer = bytearray()

    async def __aenter__(self) -> Connection:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the socket (idempotent)."""
        stream, self._stream = self._stream, None
        self._buffer.clear()
        if stream is not None:
            await stream.aclose()

    async def request(self, data: bytes) -> tuple[int, bytes]:
        """Send one request and return ``(status, body)``.

        Raises:
            ProtocolError: the connection broke or the answer is not parseable HTTP/1.1;
                the connection is closed and the next request reopens it.
            OSError: the server could not be reached.
        """
        if self._stream is None:
            self._stream = await trio.open_tcp_stream(HOST, self.port)
            self.connects += 1
        try:
            await self._stream.send_all(data)
            status, length, chunked, close = await self._read_head()
            body = await self._read_chunked() if chunked else await self._read_exact(length)
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as exc:
            await self.aclose()
            raise ProtocolError(f"connection broken: {exc!r}") from None
        except ProtocolError:
            await self.aclose()
            raise
        if close:
            await self.aclose()
        return status, body

    async def _fill(self) -> None:
        assert self._stream is not None
        chunk = await self._stream.receive_some(65536)
        if not chunk:
            raise ProtocolError("connection closed by the server")
        self._buffer += chunk

    async def _read_head(self) -> tuple[int, int, bool, bool]:
        while (end := self._buffer.find(b"\r\n\r\n")) < 0:
            if len(self._buffer) > _MAX_HEAD:
                raise ProtocolError("response head too large")
            await self._fill()
        head = bytes(self._buffer[:end]).decode("latin-1")
        del self._buffer[: end + 4]
        status_line, *header_lines = head.split("\r\n")
        parts = status_line.split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
            raise ProtocolError(f"bad status line {status_line!r}")
        length, chunked, close = 0, False, parts[0] == "HTTP/1.0"
        for line in header_lines:
            name, _, value = line.partition(":")
            name, value = name.strip().lower(), value.strip().lower()
            if name == "content-length":
                if not value.isdigit():
                    raise ProtocolError(f"bad Content-Length {value!r}")
                length = int(value)
            elif name == "transfer-encoding":
                chunked = "chunked" in value
            elif name == "connection":
                close = close or value == "close"
        if length > _MAX_BODY:
            raise ProtocolError("response body too large")
        return int(parts[1]), length, chunked, close

    async def _read_exact(self, length: int) -> bytes:
        while len(self._buffer) < length:
            await self._fill()
        body = bytes(self._buffer[:length])
        del self._buffer[:length]
        return body

    async def _read_line(self) -> bytes:
        while (end := self._buffer.find(b"\r\n")) < 0:
            if len(self._buffer) > _MAX_HEAD:
                raise ProtocolError("chunk header too large")
            await self._fill()
        line = bytes(self._buffer[:end])
        del self._buffer[: end + 2]
        return line

    async def _read_chunked(self) -> bytes:
        body = bytearray()
        while True:
            size = int((await self._read_line()).split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while await self._read_line():  # trailers end with an empty line
                    pass
                return bytes(body)
            if len(body) + size > _MAX_BODY:
                raise ProtocolError("response body too large")
            body += await self._read_exact(size)
            await self._read_line()
