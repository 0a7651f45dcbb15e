"""GET /metrics after a real workload: the families, values that add up, protection, and
a scrape that never touches the store."""

from __future__ import annotations

from typing import Any

import attrs
import pytest
import trio
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from atp.actors import Runtime
from atp.api import create_app
from atp.api._metrics import metrics_open
from atp.observe import current_request_id
from atp.settings import Settings
from tests.api.test_inbox_stream import open_stream
from tests.support.helpers import Api, text
from tests.support.receivers import Receiver, Respond

# Every family docs/operations.md lists (the process_* ones come from prometheus-client).
FAMILIES = {
    "atp_http_requests", "atp_http_request_duration_seconds", "atp_http_requests_in_progress",
    "atp_sends", "atp_claims", "atp_acks", "atp_batch_items", "atp_inbox_streams",
    "atp_inbox_stream_deliveries", "atp_agents_seen_recently", "atp_agents_waiting",
    "atp_actors_live", "atp_actors_started", "atp_actor_restarts", "atp_actors_stopped_idle",
    "atp_actor_queued_commands",
    "atp_journal_commits", "atp_journal_events", "atp_journal_commit_failures",
    "atp_journal_queued", "atp_journal_commit_batch_size", "atp_journal_commit_duration_seconds",
    "atp_store_threads_busy", "atp_store_threads", "atp_store_calls_waiting",
    "atp_ledger_notification_id", "atp_projection_position", "atp_projection_lag",
    "atp_projection_events", "atp_projection_pages", "atp_projection_failed_pages",
    "atp_projection_stuck_at", "atp_audit_leaves", "atp_audit_checkpointed_leaves", "atp_audit_lag",
    "atp_audit_follower_exits",
    "atp_store_available", "atp_store_outages", "atp_store_away_seconds", "atp_store_calls_lost",
    "atp_store_calls_refused",
    "atp_http_connections_open", "atp_http_connections_limit", "atp_http_connections_refused",
    "atp_http_accept_failures", "atp_http_connection_errors",
    "atp_dead_letters", "atp_dead_letters_redriven", "atp_dead_letters_released",
    "atp_webhook_attempts", "atp_webhook_attempts_in_flight", "atp_webhook_slots",
    "atp_webhook_slots_available", "atp_webhook_attempts_pending", "atp_a2a_tasks_followed",
    "atp_receipts", "atp_receipt_tasks_followed", "atp_amtp_notices", "atp_amtp_messages_followed",
    "atp_amtp_gateway_lookups", "atp_amtp_gateway_cache_hits", "atp_amtp_gateway_lookup_failures",
    "process_open_fds", "process_resident_memory_bytes", "process_cpu_seconds",
}  # fmt: skip


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return attrs.evolve(
        settings,
        webhook_allow_private=True,
        webhook_timeout=2.0,
        agents_per_account={"free": 3},  # a third agent, with a webhook endpoint
    )


class Scrape:
    """A parsed scrape: ``value(name, **labels)`` of one sample."""

    def __init__(self, text: str) -> None:
        self.families = {f.name: f for f in text_string_to_metric_families(text)}

    def samples(self, name: str) -> list[Sample]:
        return [s for f in self.families.values() for s in f.samples if s.name == name]

    def value(self, name: str, **labels: str) -> float:
        found = [s.value for s in self.samples(name) if s.labels == labels]
        assert len(found) == 1, (name, labels, self.samples(name))
        return found[0]


async def scrape(api: Api, token: str | None = None) -> Scrape:
    r = await api.get("/metrics", token)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain; version=")
    return Scrape(r.text)


async def test_after_a_workload_the_scrape_adds_up(
    api: Api, runtime: Runtime, receiver: Receiver
) -> None:
    alpha, beta = await api.pair()
    hooked = await api.agent(alpha.account_token, "hooked")
    await api.webhook_endpoint(hooked, receiver.url())
    for _ in range(3):
        assert (await api.send(alpha, beta)).status_code == 201
    deliveries = [(await api.claim(beta)).json()["id"] for _ in range(2)]
    for delivery_id in deliveries:
        assert (await api.ack(beta, delivery_id, "completed")).status_code == 201
    assert (await api.claim(beta)).status_code == 201  # the third
    assert (await api.claim(beta)).json() == {"delivery": None}  # nothing left: 200
    delivered = (await api.send(alpha, hooked)).json()["message"]["id"]
    await api.settled(hooked, delivered, "delivered")
    receiver.script(Respond(404))  # fails at once: a dead letter
    parked = (await api.send(alpha, hooked)).json()["message"]["id"]
    await api.settled(hooked, parked, "failed")
    refused = await api.send(alpha, "atp://agent/agt_nobody")
    assert refused.status_code == 422  # recipient_not_found
    await runtime.projections.wait_current()

    metrics = await scrape(api)
    assert set(metrics.families) >= FAMILIES
    assert metrics.value("atp_sends_total", status="201") == 5
    assert metrics.value("atp_sends_total", status="422") == 1
    assert metrics.value("atp_claims_total", status="201") == 3
    assert metrics.value("atp_claims_total", status="200") == 1
    assert metrics.value("atp_acks_total", status="201") == 2
    route = {"method": "POST", "route": "/api/messages"}
    assert metrics.value("atp_http_requests_total", **route, status="201") == 5
    assert metrics.value("atp_http_request_duration_seconds_count", **route) == 6
    assert metrics.value("atp_http_request_duration_seconds_bucket", **route, le="+Inf") == 6
    assert metrics.value("atp_http_requests_in_progress") == 1  # the scrape itself
    assert metrics.value("atp_projection_lag") == 0
    head = metrics.value("atp_ledger_notification_id")
    assert head == runtime.ledger.last_committed == metrics.value("atp_projection_position") > 0
    assert metrics.value("atp_webhook_attempts_total", outcome="delivered") == 1
    assert metrics.value("atp_webhook_attempts_total", outcome="http_4xx") == 1
    assert metrics.value("atp_dead_letters_total") == 1
    assert metrics.value("atp_webhook_attempts_in_flight") == 0
    slots = runtime.context.settings.webhook_concurrency
    assert (
        metrics.value("atp_webhook_slots") == metrics.value("atp_webhook_slots_available") == slots
    )
    assert metrics.value("atp_actors_live", kind="mailbox") >= 2
    assert metrics.value("atp_actors_live", kind="account") == 1
    commits = metrics.value("atp_journal_commits_total")
    assert commits > 0 and metrics.value("atp_journal_events_total") >= commits
    assert metrics.value("atp_journal_commit_batch_size_count") == commits
    assert metrics.value("atp_journal_commit_duration_seconds_count") == commits
    assert metrics.value("atp_store_threads") == runtime.context.settings.db_threads
    assert (
        metrics.value("atp_store_available") == 1 and metrics.value("atp_store_outages_total") == 0
    )
    assert metrics.value("atp_projection_stuck_at") == 0
    assert metrics.value("atp_http_connections_open") >= 1  # this client's
    assert metrics.value("atp_http_connections_refused_total") == 0
    assert metrics.value("process_open_fds") > 0


async def test_batch_items_and_streams_are_counted(api: Api) -> None:
    alpha, beta = await api.pair()
    items = [{"to": beta.address, "payload": text(f"m-{i}", str(i))} for i in range(3)]
    items.append({"to": "atp://agent/agt_nobody", "payload": text()})
    r = await api.post("/api/messages/batch", alpha.token, {"messages": items})
    assert [item["status"] for item in r.json()["results"]] == [201, 201, 201, 422]
    async with open_stream(api, beta, "?credit=2") as stream:
        held = await stream.take(2)
        metrics = await scrape(api)
        assert metrics.value("atp_inbox_streams") == 1
        assert metrics.value("atp_inbox_stream_deliveries_total") == 2
        assert metrics.value("atp_agents_waiting") == 1  # beta, on its stream
        assert metrics.value("atp_agents_seen_recently") == 1
        acks = [{"delivery_id": c["id"], "status": "completed"} for c in held]
        acks.append({"delivery_id": "dlv_nothing", "status": "completed"})
        await api.post("/api/deliveries/acks", beta.token, {"acks": acks})
        await stream.take(1)
    metrics = await scrape(api)
    assert metrics.value("atp_batch_items_total", kind="sends", status="201") == 3
    assert metrics.value("atp_batch_items_total", kind="sends", status="422") == 1
    assert metrics.value("atp_batch_items_total", kind="acks", status="201") == 2
    assert metrics.value("atp_batch_items_total", kind="acks", status="404") == 1
    assert metrics.value("atp_inbox_stream_deliveries_total") == 3
    with trio.fail_after(5):  # the stream ends as the server sees the client go
        while True:
            if (await scrape(api)).value("atp_inbox_streams") == 0:
                break
            await trio.sleep(0.05)


async def test_a_scrape_makes_no_store_call(
    api: Api, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    alpha, beta = await api.pair()
    await api.send(alpha, beta)
    bridge = runtime.ledger.bridge
    assert runtime.context.queries.bridge is bridge  # the one way to the store's threads
    callers: list[str | None] = []

    def spy(name: str) -> None:
        real = getattr(bridge, name)

        async def call(fn: Any, *args: Any, **kwargs: Any) -> Any:
            callers.append(current_request_id())
            return await real(fn, *args, **kwargs)

        monkeypatch.setattr(bridge, name, call)

    for name in ("run", "read", "probe", "run_always"):  # every way into a store thread
        spy(name)
    r = await api.get("/metrics", None)
    assert r.status_code == 200
    ready = await api.get("/ready", None)  # the spy sees calls made for a request
    assert ready.headers["x-request-id"] in callers
    assert r.headers["x-request-id"] not in callers


async def test_a_token_protects_the_scrape(api: Api, runtime: Runtime) -> None:
    runtime.context.settings = attrs.evolve(
        runtime.context.settings, metrics_token="scrape-token-0123456789"
    )
    for headers in (
        {}, {"authorization": "Bearer wrong"}, {"authorization": "scrape-token-0123456789"},
        {"authorization": "Bearer scrape-token-0123456789x"},
    ):  # fmt: skip
        r = await api.client.get("/metrics", headers=headers)
        assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
    await scrape(api, "scrape-token-0123456789")


async def test_without_a_token_only_a_loopback_carrier_serves_metrics(
    api: Api, runtime: Runtime
) -> None:
    await scrape(api)  # 127.0.0.1 by default
    runtime.context.settings = attrs.evolve(runtime.context.settings, bind="0.0.0.0")
    r = await api.get("/metrics", None)
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    runtime.context.settings = attrs.evolve(runtime.context.settings, metrics_token="t0ken")
    await scrape(api, "t0ken")


@pytest.mark.parametrize(
    ("bind", "expected"),
    [("127.0.0.1", True), ("127.8.0.1", True), ("::1", True), ("[::1]", True),
     ("localhost", True), ("0.0.0.0", False), ("::", False), ("10.1.2.3", False),
     ("example.com", False), ("unix:/run/atp.sock", False)],
)  # fmt: skip
def test_which_binds_are_loopback(bind: str, expected: bool) -> None:
    assert metrics_open(Settings(bind=bind)) is expected


async def test_openmetrics_when_asked_and_one_registry_per_app(api: Api, runtime: Runtime) -> None:
    r = await api.client.get("/metrics", headers={"accept": "application/openmetrics-text"})
    assert r.headers["content-type"].startswith("application/openmetrics-text")
    assert r.text.endswith("# EOF\n")
    # Each app has its own registry: a second carrier app in this process is no clash.
    second = create_app(runtime.carrier)
    async with second.test_app() as test_app:
        answer = await test_app.test_client().get("/metrics")
        assert answer.status_code == 200
