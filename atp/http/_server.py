"""Hypercorn's HTTP/1.1 connections, served from our own accept loop.

``hypercorn.trio.serve`` accepts with ``trio.serve_listeners``, which has no limit on
connections: past the open-files limit every ``accept`` fails with EMFILE, clients wait
in the kernel's queue until they time out, and trio logs a traceback every 100 ms
(issue 19, point 11). Neither takes a hook, so this module does what Hypercorn's trio
worker does around its per-connection ``TCPServer`` (the ASGI lifespan, the listening
sockets, a graceful stop), with the accept loop ours: each connection passes the
:class:`ConnectionGate` or is refused at once. Everything inside a connection (h11,
keep-alive, the ASGI exchange) is still Hypercorn's.

Plain HTTP only: ATP is served behind a TLS-terminating proxy or on loopback, and
``serve_http`` never configures certificates.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import trio
from hypercorn.config import Config
from hypercorn.trio.lifespan import Lifespan
from hypercorn.trio.tcp_server import TCPServer
from hypercorn.trio.worker_context import WorkerContext
from hypercorn.typing import ASGIFramework, ConnectionState
from hypercorn.utils import repr_socket_addr, wrap_app

from atp.http._gate import ACCEPT_RETRY, CAPACITY_ERRNOS, ConnectionGate

__all__ = ["serve_connections"]


class _Connection(TCPServer):
    """Hypercorn's connection, ended as soon as its client has gone.

    Hypercorn runs the keep-alive timer in the connection's task group and nothing
    stops it when the client closes, so the connection and its descriptor stay until
    the timer fires (``keep_alive_timeout`` later). Under churn that is every recent
    client's descriptor, long after it left; so when reading ends, the timer stops.
    """

    async def _read_data(self) -> None:
        await super()._read_data()
        await self.idle_task.stop()


async def serve_connections(
    app: ASGIFramework,
    config: Config,
    gate: ConnectionGate,
    *,
    shutdown_trigger: Callable[[], Awaitable[object]],
    task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve ``app`` on ``config.bind`` until ``shutdown_trigger`` returns.

    ``task_status.started`` receives the bound addresses (``http://host:port``). On
    shutdown: stop accepting, let open connections finish their requests (idle ones
    close at once) within ``config.graceful_timeout``, then end the ASGI lifespan.
    """
    if config.ssl_enabled:
        raise ValueError("serve_connections serves plain HTTP only")
    wrapped = wrap_app(app, config.wsgi_max_body_size, "asgi")
    state: dict[str, Any] = {}
    lifespan = Lifespan(wrapped, config, state)
    context = WorkerContext(None)

    async def serve_one(stream: trio.SocketStream) -> None:
        try:
            # Hypercorn types the stream as TLS; a plain SocketStream is what its own
            # worker passes for plain HTTP too.
            state_copy = ConnectionState(state.copy())
            await _Connection(wrapped, config, context, state_copy, stream)  # type: ignore[arg-type]
        except Exception as error:
            # One connection's failure must not end the server, as it does Hypercorn's
            # worker: a client's EOF can race Hypercorn into BusyResourceError (see
            # ops/upstream/README.md). Cancellation is not an Exception and goes on.
            gate.connection_failed(error)
            await trio.aclose_forcefully(stream)
        finally:
            gate.release()

    async def accept(listener: trio.SocketListener, connections: trio.Nursery) -> None:
        while True:
            try:
                stream = await listener.accept()
            except OSError as error:
                if error.errno not in CAPACITY_ERRNOS:
                    raise
                gate.accept_failed(error)
                await trio.sleep(ACCEPT_RETRY)
                continue
            if gate.admit():
                connections.start_soon(serve_one, stream)
            else:
                await gate.refuse(stream)

    try:
        sockets = config.create_sockets().insecure_sockets
    except OSError as exc:  # the OS's text names no address: say which one
        raise OSError(
            exc.errno, f"cannot listen on {', '.join(config.bind)}: {exc.strerror}"
        ) from exc
    listeners = []
    for sock in sockets:
        sock.listen(config.backlog)
        listeners.append(trio.SocketListener(trio.socket.from_stdlib_socket(sock)))
    binds = [f"http://{repr_socket_addr(sock.family, sock.getsockname())}" for sock in sockets]
    try:
        async with trio.open_nursery() as lifespan_tasks:
            await lifespan_tasks.start(lifespan.handle_lifespan)
            await lifespan.wait_for_startup()
            async with trio.open_nursery() as connections:
                async with trio.open_nursery() as accepting:
                    for listener in listeners:
                        accepting.start_soon(accept, listener, connections)
                    task_status.started(binds)
                    await shutdown_trigger()
                    accepting.cancel_scope.cancel()
                for listener in listeners:
                    await listener.aclose()
                # Idle keep-alive connections close now; busy ones after their answer.
                await context.terminated.set()
                connections.cancel_scope.deadline = trio.current_time() + config.graceful_timeout
            await lifespan.wait_for_shutdown()
            lifespan_tasks.cancel_scope.cancel()
    finally:
        for sock in sockets:
            sock.close()
