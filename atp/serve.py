"""``atp serve``: one process, one ``trio.run``: ledger, journal, projections, actors, HTTP.

Task ownership is the nesting below, and so is the shutdown order. On SIGINT or
SIGTERM the HTTP server stops accepting and finishes its requests, then the actors
stop, then the journal commits what is still queued; all within the grace period.

    carrier nursery:  store watch, journal writer, projection runner
      actors nursery: supervisor (every mailbox and account actor), webhook
                      dispatcher (every attempt), receipt courier, AMTP
                      notifier, sweep
        http:         the Quart-Trio app on Hypercorn's connections, from our own
                      accept loop (atp.http: connection cap, every exchange ended)

The ledger's writer lock is taken before any of this (``atp/cli/_operate.py``) and
kept by a task of the carrier nursery; if another process takes it while it is lost,
the carrier stops as on SIGTERM and ``serve`` raises ``LedgerTaken``.

Before any of it, the stores are checked and opened; a store that cannot be used as
configured stops the start with one line (``StoreSetupError``). Once running, nothing
the store does stops the process: the watch notices it gone and back (atp.ledger).
"""

from __future__ import annotations

import gc
import logging
import signal
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from uuid import UUID

import trio
from hypercorn.config import Config

from atp.actors import (
    ActorContext,
    AmtpNotifier,
    DueSweeper,
    IdempotencyGate,
    Identities,
    JournalWriter,
    Liveness,
    ReceiptCourier,
    Router,
    Runtime,
    Supervisor,
    WebhookDispatcher,
)
from atp.amtp import txt_value
from atp.api import create_app
from atp.audit import open_audit_log
from atp.domain import Message
from atp.errors import StoreSetupError
from atp.federation import Federation, GatewayDirectory, GatewayKey
from atp.http import (
    ConnectionGate,
    GateCollector,
    guard_exchanges,
    max_connections,
    raise_open_files_limit,
    room_for_connections,
    serve_connections,
    use_envelope_protocol_errors,
)
from atp.ledger import (
    Bridge,
    Ledger,
    LedgerTaken,
    LockState,
    WriterLock,
    check_store,
    describe_store_error,
)
from atp.projections import (
    AgentsView,
    EnvelopesView,
    LivenessStore,
    MessagesView,
    ProjectionRunner,
    Queries,
    ReceiptsView,
    ReplaysView,
    SchemasView,
    SessionsView,
    ViewStore,
    WebhooksView,
    apply_migrations,
    open_view_store,
    pending_migrations,
)
from atp.push import WebhookClient
from atp.sealing import Sealer
from atp.settings import Settings
from atp.wire import MAX_PAYLOAD_BYTES

__all__ = ["open_runtime", "serve", "serve_http"]

log = logging.getLogger("atp.serve")


@asynccontextmanager
async def open_runtime(
    settings: Settings, writer: WriterLock | None = None
) -> AsyncIterator[Runtime]:
    """Open the stores, run the carrier's tasks, yield the runtime; stop them in order on exit.

    Args:
        settings: the carrier's configuration.
        writer: the ledger's writer lock, already held. The runtime keeps it (takes it
            again after a lost connection) and commits only while it is held. The
            commands take it; in-process tests pass none, as they share stores on purpose.
    """
    bridge = Bridge(settings.db_threads)
    settings, ledger, store = await _open_stores(settings, bridge)
    try:

        async def load_messages(wanted: Sequence[tuple[UUID, int]]) -> dict[UUID, Message]:
            return await ledger.load_versions(Message, wanted)

        views = [
            AgentsView(),
            MessagesView(load_messages),
            SessionsView(),
            ReplaysView(),
            ReceiptsView(),
            EnvelopesView(),
            SchemasView(),
            WebhooksView(),
        ]
        projections = await bridge.run(ProjectionRunner, ledger, store, views)
        queries = Queries(store, bridge)
        journal = JournalWriter(ledger, writer=writer)
        supervisor = Supervisor(settings.actor_idle_timeout, store=bridge.store)
        sealer = Sealer(settings.secret_key or "")
        identities = Identities(ledger, queries, projections)
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
        dispatcher = WebhookDispatcher(client, settings.webhook_concurrency)
        courier = ReceiptCourier(client, settings.webhook_concurrency)
        notifier = AmtpNotifier(client, settings.webhook_concurrency)
        federation = Federation(
            settings.domain,
            GatewayDirectory(settings.amtp_resolvers),
            GatewayKey.from_settings(settings.gateway_signing_key, settings.secret_key or ""),
            client,
            settings.amtp_unsigned_domains,
        )
        context = ActorContext(
            settings=settings,
            journal=journal,
            gate=IdempotencyGate(ledger, sealer),
            identities=identities,
            ledger=ledger,
            queries=queries,
            views=projections,
            sealer=sealer,
            pushes=dispatcher,
            receipts=courier,
            routes=Router(supervisor, journal, bridge.store),
            liveness=Liveness(settings.reachable_window),
            federation=federation,
            notices=notifier,
        )
        runtime = Runtime(
            context=context,
            ledger=ledger,
            supervisor=supervisor,
            projections=projections,
            dispatcher=dispatcher,
            courier=courier,
            notifier=notifier,
            audit=await open_audit_log(settings, ledger, store, bridge),
        )

        async with trio.open_nursery() as carrier:
            if writer is not None:
                await carrier.start(writer.run)
            await carrier.start(
                bridge.watch([ledger.probe_sync, store.probe], settings.store_timeout).run
            )
            await carrier.start(journal.run)
            await carrier.start(projections.run)  # it has caught up (or is stuck) when started
            await carrier.start(runtime.audit.writer.run)
            await carrier.start(context.liveness.run, LivenessStore(store, bridge))
            async with trio.open_nursery() as actors:
                await actors.start(supervisor.run)
                await actors.start(dispatcher.run, context)
                await actors.start(courier.run, context)
                await actors.start(notifier.run, context)
                await actors.start(DueSweeper(context, supervisor).run)
                yield runtime
                actors.cancel_scope.cancel()
            carrier.cancel_scope.cancel()
    finally:
        with trio.CancelScope(shield=True):
            await bridge.run_always(store.close)
            await bridge.run_always(ledger.close)


async def _open_stores(settings: Settings, bridge: Bridge) -> tuple[Settings, Ledger, ViewStore]:
    """Check the store, open the views and check they are migrated, then the ledger
    (which creates its tables: not in a database that fails the checks). Returns the
    settings with their secret key (the embedded store's is made in its data dir).

    Raises:
        StoreSetupError: the store cannot be used as configured (one line: why, what to do).
        ValueError: PostgreSQL without ``ATP_SECRET_KEY`` (before any connection).
    """
    if settings.store == "postgresql":
        settings = settings.with_secret_key().with_audit_signing_key()
    store: ViewStore | None = None
    try:
        await bridge.run(check_store, settings)
        settings = settings.with_secret_key().with_audit_signing_key()
        store = await bridge.run(open_view_store, settings)
        if settings.store == "sqlite":
            # The embedded default migrates itself; PostgreSQL is migrated by `atp migrate`.
            await bridge.run(apply_migrations, store)
        elif pending := await bridge.run(pending_migrations, store):
            raise StoreSetupError(
                f"the database is not migrated ({len(pending)} migration(s) to apply, from"
                f" {pending[0]}): run `atp migrate` with the same ATP_DATABASE_URL, then"
                " start again"
            )
        return settings, await bridge.run(Ledger, settings, bridge), store
    except BaseException as exc:
        if store is not None:
            with trio.CancelScope(shield=True):
                await bridge.run_always(store.close)
        passes = StoreSetupError | OSError | ValueError  # each says what is wrong itself
        if isinstance(exc, Exception) and not isinstance(exc, passes):
            raise StoreSetupError(describe_store_error(exc)) from exc
        raise


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
    settings = runtime.context.settings
    config = Config()
    config.bind = [f"{settings.bind}:{settings.port}"]
    config.accesslog = None  # atp.api logs each request itself (atp.access)
    config.errorlog = logging.getLogger("hypercorn.error")  # the root's handler, no own one
    config.graceful_timeout = settings.shutdown_grace
    config.keep_alive_timeout = settings.keep_alive_timeout
    # Hypercorn's 100 drops a burst's connections for a second (SYN retry) before the
    # accept loop can even refuse them; the kernel caps this at net.core.somaxconn.
    config.backlog = 1024
    use_envelope_protocol_errors()
    api = create_app(runtime.carrier)
    gate = ConnectionGate(max_connections(settings))
    api.config["ATP_METRICS"].register(GateCollector(gate))  # the gate is outside the app
    app = guard_exchanges(api, body_timeout=settings.body_timeout)
    await serve_connections(
        app, config, gate, shutdown_trigger=shutdown.wait, task_status=task_status
    )


async def serve(settings: Settings, writer: WriterLock) -> None:
    """Run the carrier until SIGINT or SIGTERM, then shut down gracefully.

    Raises:
        LedgerTaken: another process took the writer lock while it was lost; the
            carrier stopped gracefully first.
    """
    shutdown = trio.Event()
    files = raise_open_files_limit()
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with open_runtime(settings, writer) as runtime, trio.open_nursery() as nursery:
            # Start-up objects never die: keep the cyclic GC off them, and collect the
            # young generation less often (docs/performance.md, "What paid").
            gc.freeze()
            gc.set_threshold(50_000, 20, 20)

            async def wait_for_signal() -> None:
                async for _ in signals:
                    log.info("shutting down")
                    return

            nursery.start_soon(_stop_on, shutdown, wait_for_signal, writer.wait_taken)
            binds = await nursery.start(serve_http, runtime, shutdown)
            log.info("ATP listening on %s (%s store)", ", ".join(binds), settings.store)
            federation = runtime.carrier.federation
            assert federation is not None
            gateway = settings.public_url or binds[0]
            record = txt_value(gateway, MAX_PAYLOAD_BYTES, federation.key.public_key)
            # What other AMTP gateways need to find this one (docs/amtp.md).
            log.info('AMTP: publish _amtp.%s. IN TXT "%s"', settings.domain, record)
            # Said once the start has succeeded: a failed start is one line, its cause.
            log.info(
                "open files: limit %s%s, hard limit %s; at most %d HTTP connections",
                files.soft,
                "" if files.raised_from is None else f" (raised from {files.raised_from})",
                files.hard,
                max_connections(settings),
            )
            if max_connections(settings) > (room := room_for_connections(settings)):
                log.warning(
                    "ATP_MAX_CONNECTIONS=%d is more than the open-files limit leaves room"
                    " for (%d): past that, accepting fails for want of descriptors",
                    max_connections(settings),
                    room,
                )
            await shutdown.wait()
            runtime.context.arrivals.close()  # long polls answer, streams end
            # Hypercorn finishes in-flight requests within its graceful timeout.
            nursery.cancel_scope.deadline = trio.current_time() + settings.shutdown_grace
    if writer.state is LockState.TAKEN:
        raise LedgerTaken(writer.ledger, writer.taken_by)


async def _stop_on(shutdown: trio.Event, *waits: Callable[[], Awaitable[object]]) -> None:
    """Set ``shutdown`` when the first of ``waits`` returns."""
    async with trio.open_nursery() as waiting:

        async def wait(until: Callable[[], Awaitable[object]]) -> None:
            await until()
            waiting.cancel_scope.cancel()

        for until in waits:
            waiting.start_soon(wait, until)
    shutdown.set()
