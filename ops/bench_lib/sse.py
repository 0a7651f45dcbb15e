"""A Server-Sent Events reader on a trio socket, light enough for a load generator: one
``GET`` with a bearer token, then the ``data`` of each event as it arrives (comment
lines such as ``: heartbeat`` are skipped). Only 127.0.0.1 is ever a target."""

from __future__ import annotations

from collections.abc import AsyncIterator

import trio

from bench_lib.http import HOST, ProtocolError, build_request

__all__ = ["events"]

_MAX_BUFFER = 16 * 1024 * 1024


class _Reader:
    """The response's bytes: its head, then its body unchunked as the chunks come."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self._stream = stream
        self._buffer = bytearray()

    async def _fill(self) -> None:
        chunk = await self._stream.receive_some(65536)
        if not chunk:
            raise ProtocolError("stream closed by the server")
        self._buffer += chunk
        if len(self._buffer) > _MAX_BUFFER:
            raise ProtocolError("stream buffer overflow")

    async def until(self, mark: bytes) -> bytes:
        """The bytes up to ``mark`` (taken off, ``mark`` too)."""
        while (end := self._buffer.find(mark)) < 0:
            await self._fill()
        data = bytes(self._buffer[:end])
        del self._buffer[: end + len(mark)]
        return data

    async def exactly(self, size: int) -> bytes:
        while len(self._buffer) < size:
            await self._fill()
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data


async def events(port: int, path: str, token: str) -> AsyncIterator[bytes]:
    """The ``data`` of each event of ``GET path``, until the server ends the stream.

    Raises:
        ProtocolError: an answer other than a chunked 200, or a broken stream.
    """
    headers = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
    stream = await trio.open_tcp_stream(HOST, port)
    async with stream:
        await stream.send_all(build_request("GET", path, port, headers))
        reader = _Reader(stream)
        head = (await reader.until(b"\r\n\r\n")).decode("latin-1")
        if not head.startswith("HTTP/1.1 200") or "chunked" not in head.lower():
            raise ProtocolError(f"not a chunked 200: {head.splitlines()[0]!r}")
        text = bytearray()
        while True:
            size = int((await reader.until(b"\r\n")).split(b";")[0] or b"0", 16)
            if size == 0:
                return
            text += await reader.exactly(size)
            await reader.until(b"\r\n")
            while (end := text.find(b"\n\n")) >= 0:
                event = bytes(text[:end])
                del text[: end + 2]
                for line in event.split(b"\n"):
                    if line.startswith(b"data: "):
                        yield line[6:]
