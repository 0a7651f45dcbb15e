"""A TCP relay in front of PostgreSQL, to take the network away from one client.

Leaving ``tcp_relay`` closes every relayed connection on both sides, and nothing
listens on its port until it is opened again (the store is unreachable). ``cut()``
breaks the connections on the client's side only: the server keeps its sessions, as
after a network break it has not noticed yet.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

import attrs
import trio

__all__ = ["Relay", "tcp_relay"]


@attrs.define
class Relay:
    port: int = 0
    links: list[tuple[trio.CancelScope, trio.SocketStream]] = attrs.field(factory=list)

    def cut(self) -> None:
        """Close the client's end of every connection; leave the server's open."""
        for scope, _ in self.links:
            scope.cancel()


async def _pump(source: trio.SocketStream, sink: trio.SocketStream) -> None:
    async for chunk in source:
        await sink.send_all(chunk)
    await sink.send_eof()


@asynccontextmanager
async def tcp_relay(upstream: int, port: int = 0) -> AsyncIterator[Relay]:
    """A relay on 127.0.0.1:``port`` (0: any) to 127.0.0.1:``upstream``."""
    relay = Relay()

    async def link(client: trio.SocketStream) -> None:
        server = await trio.open_tcp_stream("127.0.0.1", upstream)
        async with client:
            with trio.CancelScope() as scope:
                relay.links.append((scope, server))
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(_pump, client, server)
                    nursery.start_soon(_pump, server, client)

    try:
        async with trio.open_nursery() as nursery:
            listeners = await nursery.start(partial(trio.serve_tcp, link, port, host="127.0.0.1"))
            relay.port = listeners[0].socket.getsockname()[1]
            yield relay
            nursery.cancel_scope.cancel()
    finally:
        for _, server in relay.links:
            server.socket.close()
