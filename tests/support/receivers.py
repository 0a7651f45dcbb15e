"""A real HTTP/1.1 webhook receiver for tests: real sockets, scripted answers, full records.

Use it from any trio test, including one whose carrier runs in a subprocess (it only
needs a port)::

    async with open_receiver() as receiver:
        receiver.script(Respond(503, headers={"retry-after": "2"}), Respond(200))
        ...  # point a webhook at receiver.url("/hook")
        await receiver.wait_for(2)
        assert receiver.requests[1].headers["atp-delivery-id"] == ...

Each request takes the next scripted behaviour, or ``default`` once the script is used
up: ``Respond`` answers, ``Hang`` never answers (until the receiver stops), ``Close``
drops the connection without answering, ``Trickle`` sends headers and then one body byte
at a time for ever. Every request is recorded with its connection's id, so a test can
tell whether the client reused a connection. Keep-alive and Content-Length bodies work
(h11 does the parsing); ``tls=`` serves https and records the SNI names clients sent.
"""

from __future__ import annotations

import itertools
import ssl
from collections import deque
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from functools import partial

import attrs
import h11
import trio

__all__ = [
    "Behaviour",
    "Close",
    "Hang",
    "ReceivedRequest",
    "Receiver",
    "Respond",
    "Trickle",
    "open_receiver",
]


@attrs.frozen
class Respond:
    """Answer with ``status``, extra ``headers`` (e.g. retry-after, location) and ``body``,
    ``after`` so many seconds."""

    status: int = 200
    headers: Mapping[str, str] = attrs.field(factory=dict)
    body: bytes = b""
    after: float = 0.0


@attrs.frozen
class Hang:
    """Read the request, then never answer (the connection stays open)."""


@attrs.frozen
class Close:
    """Read the request, then close the connection without a response."""


@attrs.frozen
class Trickle:
    """Send a 200 with a long Content-Length, then one body byte every ``interval`` s."""

    interval: float = 0.05


Behaviour = Respond | Hang | Close | Trickle


@attrs.frozen
class ReceivedRequest:
    """One request as it arrived; header names are lower-cased, repeats joined by ", "."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    arrived_at: float  # trio.current_time()
    connection_id: int


class Receiver:
    """The server; start it with ``await nursery.start(receiver.run)`` or ``open_receiver``."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        default: Behaviour = Respond(200),
        tls: ssl.SSLContext | None = None,
        patience: float = 15.0,
    ) -> None:
        self.host = host
        self.patience = patience  # how long wait_for waits (on a mock clock: inf)
        self.default = default
        self.requests: list[ReceivedRequest] = []
        self.connections = 0
        self.server_names: list[str | None] = []  # SNI per TLS handshake, in order
        self._tls = tls
        self._script: deque[Behaviour] = deque()
        self._port: int | None = None
        self._arrived = trio.Condition()
        self._connection_ids = itertools.count(1)
        if tls is not None:
            tls.sni_callback = self._record_server_name

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the receiver is not running")
        return self._port

    def url(self, path: str = "/hook") -> str:
        """``http(s)://<host>:<port><path>``, with an IPv6 host in brackets."""
        scheme = "https" if self._tls is not None else "http"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{self.port}{path}"

    def script(self, *behaviours: Behaviour) -> None:
        """Queue behaviours for the next requests, in order, after any still queued."""
        self._script.extend(behaviours)

    async def wait_for(self, count: int) -> list[ReceivedRequest]:
        """Wait until at least ``count`` requests have arrived; return all so far.

        Raises:
            trio.TooSlowError: they did not arrive within ``patience`` seconds (so a
                broken carrier fails the test instead of hanging it).
        """
        with trio.fail_after(self.patience):
            async with self._arrived:
                while len(self.requests) < count:
                    await self._arrived.wait()
        return self.requests

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Serve on an ephemeral port until cancelled; ``task_status`` fires once bound."""
        async with trio.open_nursery() as nursery:
            listeners = await nursery.start(partial(trio.serve_tcp, self._serve, 0, host=self.host))
            self._port = listeners[0].socket.getsockname()[1]
            task_status.started()

    def _record_server_name(
        self, _socket: ssl.SSLObject | ssl.SSLSocket, name: str | None, _ctx: ssl.SSLContext
    ) -> None:
        self.server_names.append(name)

    async def _serve(self, stream: trio.SocketStream) -> None:
        connection_id = next(self._connection_ids)
        self.connections += 1
        transport: trio.abc.Stream = stream
        try:
            if self._tls is not None:
                transport = trio.SSLStream(stream, self._tls, server_side=True)
                await transport.do_handshake()
            await self._converse(transport, connection_id)
        except (trio.BrokenResourceError, trio.ClosedResourceError, h11.ProtocolError):
            pass  # the client went away or spoke nonsense: nothing to record
        finally:
            with trio.CancelScope(shield=True):
                await trio.aclose_forcefully(transport)

    async def _converse(self, stream: trio.abc.Stream, connection_id: int) -> None:
        conn = h11.Connection(h11.SERVER)
        while True:
            request = await _next_event(stream, conn)
            if not isinstance(request, h11.Request):
                return
            body = bytearray()
            while True:
                event = await _next_event(stream, conn)
                if isinstance(event, h11.Data):
                    body += event.data
                elif isinstance(event, h11.EndOfMessage):
                    break
                else:
                    return
            headers: dict[str, str] = {}
            for name, value in request.headers:
                key = name.decode("latin-1").lower()
                text = value.decode("latin-1")
                headers[key] = f"{headers[key]}, {text}" if key in headers else text
            behaviour = self._script.popleft() if self._script else self.default
            async with self._arrived:
                self.requests.append(
                    ReceivedRequest(
                        method=request.method.decode("ascii"),
                        path=request.target.decode("latin-1"),
                        headers=headers,
                        body=bytes(body),
                        arrived_at=trio.current_time(),
                        connection_id=connection_id,
                    )
                )
                self._arrived.notify_all()
            if not await _act(stream, conn, behaviour):
                return
            if conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
                return
            conn.start_next_cycle()


async def _act(stream: trio.abc.Stream, conn: h11.Connection, behaviour: Behaviour) -> bool:
    """Carry out one behaviour; False when the connection is finished with."""
    if isinstance(behaviour, Hang):
        await trio.sleep_forever()
    if isinstance(behaviour, Close):
        return False
    if isinstance(behaviour, Trickle):
        headers = [("content-length", "1000000000")]
        await stream.send_all(conn.send(h11.Response(status_code=200, headers=headers)))
        while True:
            await stream.send_all(conn.send(h11.Data(data=b".")))
            await trio.sleep(behaviour.interval)
    assert isinstance(behaviour, Respond)
    await trio.sleep(behaviour.after)
    headers = list(behaviour.headers.items())
    if behaviour.status not in (204, 304):  # these two never carry a body or its length
        headers.append(("content-length", str(len(behaviour.body))))
    await stream.send_all(conn.send(h11.Response(status_code=behaviour.status, headers=headers)))
    if behaviour.body:
        await stream.send_all(conn.send(h11.Data(data=behaviour.body)))
    await stream.send_all(conn.send(h11.EndOfMessage()))
    return True


async def _next_event(stream: trio.abc.Stream, conn: h11.Connection) -> object:
    """The next h11 event, reading from the socket as needed; ConnectionClosed at EOF."""
    while True:
        event = conn.next_event()
        if event is not h11.NEED_DATA:
            return event
        conn.receive_data(bytes(await stream.receive_some(65536)))


@asynccontextmanager
async def open_receiver(
    *,
    host: str = "127.0.0.1",
    default: Behaviour = Respond(200),
    tls: ssl.SSLContext | None = None,
    patience: float = 15.0,
) -> AsyncIterator[Receiver]:
    """Run a ``Receiver`` for the duration of the block, then stop it (hung requests too)."""
    receiver = Receiver(host=host, default=default, tls=tls, patience=patience)
    async with trio.open_nursery() as nursery:
        await nursery.start(receiver.run)
        yield receiver
        nursery.cancel_scope.cancel()
