"""A raw HTTP/1.1 client for tests of the connection itself: bytes out, answers in.

httpx hides what these tests look at (when the server closes, what it answers before
a body has arrived), and refuses to send some of the requests they need.
"""

from __future__ import annotations

import json
from typing import Any

import attrs
import httpx
import trio

__all__ = ["Answer", "RawConnection", "request"]


def request(
    method: str,
    path: str,
    *,
    headers: tuple[tuple[str, str], ...] = (),
    body: bytes | None = None,
    version: str = "1.1",
) -> bytes:
    """The bytes of a request; ``content-length`` is added when ``body`` is given."""
    lines = [f"{method} {path} HTTP/{version}", "host: carrier.test"]
    lines += [f"{name}: {value}" for name, value in headers]
    if body is not None and not any(name == "content-length" for name, _ in headers):
        lines.append(f"content-length: {len(body)}")
    return "\r\n".join([*lines, "", ""]).encode() + (body or b"")


@attrs.frozen
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class RawConnection:
    """One TCP connection to the server, read and written by hand."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self._buffer = bytearray()

    @classmethod
    async def open(cls, base_url: str) -> RawConnection:
        url = httpx.URL(base_url)
        assert url.port is not None
        return cls(await trio.open_tcp_stream(url.host, url.port))

    async def send(self, data: bytes) -> None:
        await self.stream.send_all(data)

    async def _more(self) -> bool:
        """Read what comes; False at the end of the stream (EOF or reset)."""
        try:
            data = await self.stream.receive_some()
        except trio.BrokenResourceError:  # a reset
            return False
        self._buffer += data
        return bool(data)

    async def answer(self) -> Answer:
        """The next answer (every answer here has a ``content-length``)."""
        while b"\r\n\r\n" not in self._buffer:
            assert await self._more(), f"closed before an answer: {bytes(self._buffer)!r}"
        head, _, _ = bytes(self._buffer).partition(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        start = len(head) + 4
        end = start + int(headers["content-length"])
        while len(self._buffer) < end:
            assert await self._more(), "closed inside an answer"
        body = bytes(self._buffer[start:end])
        del self._buffer[:end]
        return Answer(int(status_line.split()[1]), headers, body)

    async def wait_closed(self) -> None:
        """Return when the server has closed the connection; fail if it sends more."""
        while await self._more():
            pass
        assert not self._buffer, f"unexpected bytes before the close: {bytes(self._buffer)!r}"

    async def aclose(self) -> None:
        await self.stream.aclose()
