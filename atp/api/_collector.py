"""What ``GET /metrics`` reports: the carrier's counters, read when scraped.

A scrape calls the ``statistics()`` of the parts that keep counts (the HTTP edge,
the supervisor, the journal, the webhook dispatcher, the projection runner and its
messages view, the thread bridge) and turns them into metric families. Nothing here
queries a store or waits: each ``statistics()`` only copies integers, so a scrape
costs the same however busy the carrier is, and it works while the store is away.

Sends, claims and ACKs are the requests to their routes, by answer status, taken from
the same request counters as ``atp_http_requests_total``: counting them again on the
send path would cost the hot path something for no new information.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from atp.actors import Carrier, CarrierStatistics
from atp.api._access_log import HttpStats
from atp.observe import HistogramSnapshot

__all__ = ["CarrierCollector"]

# Routes whose answers count as sends, claims and ACKs (method, route template).
_SENDS = frozenset(
    {
        ("POST", "/api/messages"),
        ("POST", "/api/sessions"),
        ("POST", "/api/sessions/<session_id>/messages"),
    }
)
_CLAIMS = frozenset({("POST", "/api/inbox/claims")})
_ACKS = frozenset({("POST", "/api/deliveries/<delivery_id>/acks")})


def _histogram(
    family: HistogramMetricFamily, labels: list[str], snapshot: HistogramSnapshot
) -> None:
    buckets = [("+Inf" if b == float("inf") else repr(float(b)), n) for b, n in snapshot.buckets]
    family.add_metric(labels, buckets, snapshot.total)


def _counter(name: str, doc: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, doc, value=value)


def _gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, value=value)


class CarrierCollector(Collector):
    """Reads the carrier's ``statistics()`` at each scrape (a prometheus-client Collector)."""

    def __init__(self, carrier: Carrier, http: HttpStats) -> None:
        self.carrier = carrier
        self.http = http

    def describe(self) -> Iterable[Metric]:
        """Nothing to describe ahead: the families are known only at a scrape."""
        return []

    def collect(self) -> Iterator[Metric]:
        """Every family, from the counters as they are now."""
        stats = self.carrier.statistics()
        yield from self._http()
        yield from self._actors(stats)
        yield from self._journal(stats)
        yield from self._projections(stats)
        yield from self._audit(stats)
        yield from self._webhooks(stats)
        yield from self._store(stats)

    def _http(self) -> Iterator[Metric]:
        stats = self.http.statistics()
        requests = CounterMetricFamily(
            "atp_http_requests",
            "HTTP requests answered, by method, route template and status.",
            labels=["method", "route", "status"],
        )
        kinds: dict[str, dict[str, int]] = {"sends": {}, "claims": {}, "acks": {}}
        for (method, route, status), count in stats.requests:
            requests.add_metric([method, route, str(status)], count)
            kind = (
                "sends"
                if (method, route) in _SENDS
                else "claims"
                if (method, route) in _CLAIMS
                else "acks"
                if (method, route) in _ACKS
                else None
            )
            if kind is not None:
                by_status = kinds[kind]
                by_status[str(status)] = by_status.get(str(status), 0) + count
        yield requests
        durations = HistogramMetricFamily(
            "atp_http_request_duration_seconds",
            "Time from a request's arrival to the end of its answer, by method and route.",
            labels=["method", "route"],
        )
        for (method, route), snapshot in stats.durations:
            _histogram(durations, [method, route], snapshot)
        yield durations
        yield _gauge(
            "atp_http_requests_in_progress", "Requests being served now.", stats.in_progress
        )
        docs = {
            "sends": "Sends (direct, session openings and turns) answered, by HTTP status.",
            "claims": "Inbox claims answered, by HTTP status (201 claimed, 200 nothing to claim).",
            "acks": "ACKs answered, by HTTP status.",
        }
        for kind, by_status in kinds.items():
            family = CounterMetricFamily(f"atp_{kind}", docs[kind], labels=["status"])
            for answered, count in sorted(by_status.items()):
                family.add_metric([answered], count)
            yield family
        items = CounterMetricFamily(
            "atp_batch_items",
            "Items of batch requests answered (sends, acks), by the item's status.",
            labels=["kind", "status"],
        )
        for (kind, status), count in sorted(stats.batch_items):
            items.add_metric([kind, str(status)], count)
        yield items
        yield _gauge("atp_inbox_streams", "Inbox streams connected now.", stats.streams_open)
        yield _counter(
            "atp_inbox_stream_deliveries", "Deliveries pushed by inbox streams.", stats.streamed
        )

    def _actors(self, carrier: CarrierStatistics) -> Iterator[Metric]:
        stats = carrier.actors
        live = GaugeMetricFamily("atp_actors_live", "Actors running now, by kind.", labels=["kind"])
        for kind, count in stats.running_by_kind:
            live.add_metric([kind], count)
        yield live
        yield _counter("atp_actors_started", "Actors started since start.", stats.started)
        yield _counter("atp_actor_restarts", "Actor restarts after a crash.", stats.restarts)
        yield _counter("atp_actors_stopped_idle", "Actors stopped idle.", stats.stopped_idle)
        yield _gauge("atp_actor_queued_commands", "Commands waiting in actors.", stats.queued)

    def _journal(self, carrier: CarrierStatistics) -> Iterator[Metric]:
        stats = carrier.journal
        yield _counter("atp_journal_commits", "Journal commits (transactions).", stats.commits)
        yield _counter("atp_journal_events", "Events committed to the ledger.", stats.events)
        yield _counter(
            "atp_journal_commit_failures", "Journal commits the store refused.", stats.failures
        )
        yield _gauge("atp_journal_queued", "Actor batches waiting for a commit.", stats.queued)
        sizes = HistogramMetricFamily(
            "atp_journal_commit_batch_size", "Actor batches committed together in one commit."
        )
        _histogram(sizes, [], stats.batch_sizes)
        yield sizes
        seconds = HistogramMetricFamily(
            "atp_journal_commit_duration_seconds", "Time one journal commit took."
        )
        _histogram(seconds, [], stats.commit_seconds)
        yield seconds
        bridge = carrier.threads
        yield _gauge("atp_store_threads_busy", "Store calls running in threads.", bridge.busy)
        yield _gauge("atp_store_threads", "Store calls that may run at once.", bridge.threads)
        yield _gauge("atp_store_calls_waiting", "Store calls waiting for a thread.", bridge.waiting)

    def _audit(self, carrier: CarrierStatistics) -> Iterator[Metric]:
        stats = carrier.audit
        yield _gauge("atp_audit_leaves", "Records in the audit log's Merkle tree.", stats.size)
        yield _gauge(
            "atp_audit_checkpointed_leaves",
            "The newest signed checkpoint's tree size.",
            stats.checkpointed,
        )
        yield _gauge(
            "atp_audit_lag",
            "Notifications committed and not yet in the audit log.",
            carrier.audit_lag,
        )
        yield _counter(
            "atp_audit_follower_exits",
            "Times the audit follower's process exited (each is started again).",
            stats.follower_exits,
        )

    def _projections(self, carrier: CarrierStatistics) -> Iterator[Metric]:
        stats = carrier.projections
        yield _gauge("atp_ledger_notification_id", "Last notification id committed.", stats.head)
        yield _gauge("atp_projection_position", "Last notification in the views.", stats.position)
        yield _gauge("atp_projection_lag", "Notifications not yet in the views.", stats.lag)
        yield _counter("atp_projection_events", "Events applied to views.", stats.events_applied)
        yield _counter("atp_projection_pages", "Pages written to the views.", stats.batches)
        yield _counter(
            "atp_projection_failed_pages",
            "Pages that failed (each tried again).",
            stats.failed_pages,
        )
        yield _gauge(
            "atp_projection_stuck_at",
            "The notification id the views cannot apply (0: not stuck; the log names it).",
            stats.stuck_at or 0,
        )
        dead = carrier.dead_letters
        if dead is not None:
            yield _counter("atp_dead_letters", "Messages parked as dead letters.", dead.parked)
            yield _counter("atp_dead_letters_redriven", "Dead letters redriven.", dead.redriven)
            yield _counter("atp_dead_letters_released", "Dead letters released.", dead.released)

    def _webhooks(self, carrier: CarrierStatistics) -> Iterator[Metric]:
        stats = carrier.webhooks
        attempts = CounterMetricFamily(
            "atp_webhook_attempts", "Webhook attempts finished, by outcome.", labels=["outcome"]
        )
        for outcome, count in stats.attempts:
            attempts.add_metric([outcome], count)
        yield attempts
        yield _gauge("atp_webhook_attempts_in_flight", "Webhook attempts running.", stats.in_flight)
        yield _gauge("atp_webhook_slots", "Webhook attempts that may run at once.", stats.capacity)
        yield _gauge("atp_webhook_slots_available", "Free webhook slots.", stats.available)
        yield _gauge(
            "atp_webhook_attempts_pending", "Webhook attempts waiting for a slot.", stats.pending
        )
        yield _gauge(
            "atp_a2a_tasks_followed",
            "A2A recipients' tasks answered as going on, followed with GetTask now.",
            stats.remote_tasks,
        )
        receipts = CounterMetricFamily(
            "atp_receipts",
            "A2A delivery receipts ended, by result (delivered, abandoned, gone).",
            labels=["result"],
        )
        for result, count in carrier.receipts.results:
            receipts.add_metric([result], count)
        yield receipts
        yield _gauge(
            "atp_receipt_tasks_followed",
            "Tasks with push-notification configs whose receipts are being sent now.",
            carrier.receipts.following,
        )
        notices = CounterMetricFamily(
            "atp_amtp_notices",
            "AMTP delivery notifications ended, by result (delivered, abandoned).",
            labels=["result"],
        )
        for result, count in carrier.notices.results:
            notices.add_metric([result], count)
        yield notices
        yield _gauge(
            "atp_amtp_messages_followed",
            "AMTP messages whose senders' webhooks are owed notices, followed now.",
            carrier.notices.following,
        )
        if carrier.gateways is not None:
            gateways = carrier.gateways
            for name, help_text, value in (
                ("lookups", "TXT lookups of other domains' _amtp records.", gateways.lookups),
                ("cache_hits", "Gateway lookups answered from the cache.", gateways.cache_hits),
                ("lookup_failures", "TXT lookups that found no gateway.", gateways.failures),
            ):
                yield CounterMetricFamily(f"atp_amtp_gateway_{name}", help_text, value=value)
        liveness = carrier.liveness
        yield _gauge(
            "atp_agents_seen_recently",
            "Agents seen within ATP_REACHABLE_WINDOW, or waiting on a long poll or stream now.",
            liveness.reachable,
        )
        yield _gauge(
            "atp_agents_waiting",
            "Agents waiting on a long poll or an inbox stream now.",
            liveness.waiting,
        )

    def _store(self, carrier: CarrierStatistics) -> Iterator[Metric]:
        store = carrier.store
        yield _gauge(
            "atp_store_available", "1 while the store answers, 0 while away.", int(store.available)
        )
        yield _counter("atp_store_outages", "Times the store was found away.", store.outages)
        yield _gauge(
            "atp_store_away_seconds", "How long the store has been away.", store.away_seconds
        )
        yield _counter(
            "atp_store_calls_lost", "Store calls failed for want of the store.", store.lost_calls
        )
        yield _counter(
            "atp_store_calls_refused",
            "Calls refused at once while it was away.",
            store.refused_calls,
        )
        writer = carrier.writer_lock
        if writer is not None:
            lock = writer.statistics
            yield _gauge(
                "atp_writer_lock_held",
                "1 while this process holds the ledger's writer lock, 0 while it is lost or taken.",
                int(writer.held),
            )
            yield _counter("atp_writer_lock_lost", "Times the writer lock was lost.", lock.lost)
