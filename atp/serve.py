"""``atp serve``: one process, one ``trio.run``: ledger, journal, projections, actors, HTTP.

Task ownership is the nesting below, and so is the shutdown order. On SIGINT or
SIGTERM the HTTP server stops accepting and finishes its requests, then the actors
stop, then the journal commits what is still queued; all within the grace period.

    carrier nursery:  journal writer, projection runner
      actors nursery: supervisor (every mailbox and account actor), webhook
                      dispatcher (every attempt), sweep
        http:         the Quart-Trio app on Hypercorn's connections, from our own
                      accept loop (atp.http: connection cap, every exchange ended)
"""

from __future__ import annotations

import gc
import logging
import signal
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from uuid import UUID

import trio
from hypercorn.config import Config

from atp.actors import (
    DueSweeper,
    IdempotencyGate,
    Identities,
    JournalWriter,
    Runtime,
    Supervisor,
    WebhookDispatcher,
)
from atp.api import create_app
from atp.domain import Message
from atp.http import (
    ConnectionGate,
    guard_exchanges,
    max_connections,
    raise_open_files_limit,
    serve_connections,
    use_envelope_protocol_errors,
)
from atp.ledger import Bridge, Ledger
from atp.projections import (
    AgentsView,
    MessagesView,
    ProjectionRunner,
    Queries,
    SessionsView,
    apply_migrations,
    open_view_store,
)
from atp.push import WebhookClient
from atp.sealing import Sealer
from atp.settings import Settings

__all__ = ["open_runtime", "serve", "serve_http"]

log = logging.getLogger("atp.serve")


@asynccontextmanager
async def open_runtime(settings: Settings) -> AsyncIterator[Runtime]:
    """Open the stores, run the carrier's tasks, yield the runtime; stop them in order on exit."""
    settings = settings.with_secret_key()
    bridge = Bridge(settings.db_threads)
    ledger = await bridge.run(Ledger, settings, bridge)
    store = await bridge.run(open_view_store, settings)
    try:
        if settings.store == "sqlite":
            # The embedded default migrates itself; PostgreSQL is migrated by `atp migrate`.
            await bridge.run(apply_migrations, store)

        async def load_messages(wanted: Sequence[tuple[UUID, int]]) -> dict[UUID, Message]:
            return await ledger.load_versions(Message, wanted)

        views = [AgentsView(), MessagesView(load_messages), SessionsView()]
        projections = await bridge.run(ProjectionRunner, ledger, store, views)
        queries = Queries(store, bridge)
        journal = JournalWriter(ledger)
        supervisor = Supervisor(settings.actor_idle_timeout)
        sealer = Sealer(settings.secret_key or "")
        runtime = Runtime(
            settings=settings,
            ledger=ledger,
            journal=journal,
            supervisor=supervisor,
            projections=projections,
            queries=queries,
            identities=Identities(ledger, queries, projections),
            gate=IdempotencyGate(ledger, sealer),
            sealer=sealer,
        )
        if settings.webhook_allow_private:
            log.warning(
                "ATP_WEBHOOK_ALLOW_PRIVATE=1: webhooks may reach loopback and private"
                " addresses. Development only: never run a shared carrier like this."
            )
        client = WebhookClient(
            allow_private=settings.webhook_allow_private,
            connect_timeout=settings.webhook_timeout,
            receive_timeout=settings.webhook_timeout,
            attempt_timeout=settings.webhook_attempt_deadline,
        )
        runtime.dispatcher = WebhookDispatcher(runtime, client)
        async with trio.open_nursery() as carrier:
            await carrier.start(journal.run)
            await carrier.start(projections.run)
            await projections.catch_up()
            async with trio.open_nursery() as actors:
                await actors.start(supervisor.run)
                await actors.start(runtime.dispatcher.run)
                await actors.start(DueSweeper(runtime).run)
                yield runtime
                actors.cancel_scope.cancel()
            carrier.cancel_scope.cancel()
    finally:
        with trio.CancelScope(shield=True):
            await bridge.run(store.close)
            await bridge.run(ledger.close)


async def serve_http(
    runtime: Runtime,
    shutdown: trio.Event,
    *,
    task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve the API on the configured address until ``shutdown`` is set.

    Hypercorn's connections from our own accept loop, capped (``atp.http``), each
    exchange guarded so that keep-alive, ``Connection: close`` and the idle timeout work.
    ``task_status.started`` receives the bound addresses (port 0 picks a free one).
    """
    settings = runtime.settings
    config = Config()
    config.bind = [f"{settings.bind}:{settings.port}"]
    config.accesslog = None  # access logs would carry ids; operators opt in via a proxy
    config.graceful_timeout = settings.shutdown_grace
    config.keep_alive_timeout = settings.keep_alive_timeout
    # Hypercorn's 100 drops a burst's connections for a second (SYN retry) before the
    # accept loop can even refuse them; the kernel caps this at net.core.somaxconn.
    config.backlog = 1024
    use_envelope_protocol_errors()
    app = guard_exchanges(create_app(runtime), body_timeout=settings.body_timeout)
    gate = ConnectionGate(max_connections(settings))
    await serve_connections(
        app, config, gate, shutdown_trigger=shutdown.wait, task_status=task_status
    )


async def serve(settings: Settings) -> None:
    """Run the carrier until SIGINT or SIGTERM, then shut down gracefully."""
    shutdown = trio.Event()
    files = raise_open_files_limit()
    log.info(
        "open files: limit %s%s, hard limit %s; at most %d HTTP connections",
        files.soft, "" if files.raised_from is None else f" (raised from {files.raised_from})",
        files.hard, max_connections(settings),
    )  # fmt: skip
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with open_runtime(settings) as runtime, trio.open_nursery() as nursery:
            # Start-up objects never die: keep the cyclic GC off them, and collect the
            # young generation less often. Measured with ops/bench (SQLite, 32 clients,
            # three paired runs): 656 -> 703 sends/s on average.
            gc.freeze()
            gc.set_threshold(50_000, 20, 20)

            async def wait_for_signal() -> None:
                async for _ in signals:
                    log.info("shutting down")
                    shutdown.set()
                    return

            nursery.start_soon(wait_for_signal)
            binds = await nursery.start(serve_http, runtime, shutdown)
            log.info("ATP listening on %s (%s store)", ", ".join(binds), settings.store)
            print(f"ATP listening on {', '.join(binds)} ({settings.store} store)", flush=True)
            await shutdown.wait()
            # Hypercorn finishes in-flight requests within its graceful timeout.
            nursery.cancel_scope.deadline = trio.current_time() + settings.shutdown_grace
