"""The replay methods of both clients: what each sends and reads (a fake transport), then
every replay route against a real carrier, the same calls three ways (as
``test_client_routes.py`` drives them)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import anyio
import attrs
import httpx
import jsonschema
import pytest

from atp.api._openapi import openapi_document
from atp.client import AsyncClient, Client, Replay, ReplayFilter
from atp.errors import MessageNotDelivered, NotFound, ReplayFinished
from atp.settings import Settings
from tests.client.test_client_routes import KINDS, Awaited, drive, hello, settled
from tests.support.receivers import Receiver

RUNNING = {
    "id": "rpl_" + "r" * 22, "name": "after the fix", "agent_id": "agt_" + "b" * 22,
    "target": "inbox",
    "filter": {"since": "2026-05-27T00:00:00Z", "until": None, "status": ["delivered", "failed"],
               "sender": "atp://agent/agt_" + "a" * 22, "session": None},
    "rate_per_second": 2.5, "state": "running", "total": 3, "done": 1, "delivered": 1,
    "failed": 0, "skipped": 0, "created_at": "2026-05-27T12:00:00.000001Z", "finished_at": None,
}  # fmt: skip


def fake(
    seen: list[httpx.Request], answer: Callable[[httpx.Request], httpx.Response] | None = None
) -> httpx.MockTransport:
    """A carrier that records each request and answers the replay above."""

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if answer is not None:
            return answer(request)
        status = 202 if request.url.path.endswith(("/replay", "/replays")) else 200
        return httpx.Response(status, json={"replay": RUNNING})

    return httpx.MockTransport(handle)


def sent(request: httpx.Request) -> tuple[str, str, Any, str | None]:
    body = json.loads(request.content) if request.content else None
    return request.method, request.url.path, body, request.headers.get("idempotency-key")


async def calls_of(kind: str, transport: httpx.MockTransport, script: Any) -> Any:
    """Run ``script(client)`` with the blocking or the async client on ``transport``."""
    if kind == "sync":
        client = Client("http://carrier", "agk_test")
        client._http = httpx.Client(base_url="http://carrier", transport=transport)
        with client:
            return await script(Awaited(client))
    async_client = AsyncClient("http://carrier", "agk_test")
    async_client._http = httpx.AsyncClient(base_url="http://carrier", transport=transport)
    async with async_client:
        return await script(async_client)


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_each_replay_method_sends_its_route_and_reads_the_replay(kind: str) -> None:
    seen: list[httpx.Request] = []

    async def script(atp: Any) -> list[Replay]:
        when = datetime(2026, 5, 27, tzinfo=UTC)
        return [
            await atp.replay_message("msg_1", target="inbox", idempotency_key="one"),
            await atp.start_replay(
                target="inbox",
                since=when,
                until="2026-05-28T00:00:00Z",
                status="delivered",
                sender="agt_a",
                session="ses_s",
                rate_per_second=2.5,
                name="after the fix",
            ),
            await atp.start_replay(),
            await atp.replay("rpl_1"),
            await atp.cancel_replay("rpl_1", idempotency_key="stop", token="ak_other"),
        ]

    answers = await calls_of(kind, fake(seen), script)
    assert [sent(r)[:3] for r in seen] == [
        ("POST", "/api/messages/msg_1/replay", {"target": "inbox"}),
        ("POST", "/api/replays", {
            "target": "inbox",
            "filter": {"since": "2026-05-27T00:00:00+00:00", "until": "2026-05-28T00:00:00Z",
                       "status": ["delivered"], "sender": "agt_a", "session": "ses_s"},
            "rate_per_second": 2.5, "name": "after the fix",
        }),
        ("POST", "/api/replays", {"target": "webhook"}),  # no filter: every message
        ("GET", "/api/replays/rpl_1", None),
        ("POST", "/api/replays/rpl_1/cancel", {}),
    ]  # fmt: skip
    keys = [sent(r)[3] for r in seen]
    assert keys[0] == "one" and keys[4] == "stop" and keys[3] is None
    assert keys[1] and keys[2] and keys[1] != keys[2]  # made per call when not given
    assert [r.headers["authorization"] for r in seen] == ["Bearer agk_test"] * 4 + [
        "Bearer ak_other"
    ]
    replay = answers[0]
    assert answers == [replay] * 5
    assert (replay.id, replay.name, replay.target, replay.state) == (
        RUNNING["id"], "after the fix", "inbox", "running",
    )  # fmt: skip
    assert replay.running and (replay.total, replay.done, replay.delivered) == (3, 1, 1)
    assert replay.rate_per_second == 2.5 and replay.finished_at is None
    assert replay.created_at == datetime(2026, 5, 27, 12, 0, 0, 1, tzinfo=UTC)
    assert replay.filter == ReplayFilter(
        since=datetime(2026, 5, 27, tzinfo=UTC), status=("delivered", "failed"),
        sender=RUNNING["filter"]["sender"],
    )  # fmt: skip
    assert replay.document == {"replay": RUNNING}


def test_a_replay_filter_reads_absent_keys_as_none() -> None:
    assert ReplayFilter.of({}) == ReplayFilter.of(None) == ReplayFilter()


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_a_finished_replay_cannot_be_cancelled(kind: str) -> None:
    def finished(_: httpx.Request) -> httpx.Response:
        error = {"code": "replay_finished", "message": "The replay has completed."}
        return httpx.Response(409, json={"error": error})

    async def script(atp: Any) -> None:
        await atp.cancel_replay("rpl_1")

    with pytest.raises(ReplayFinished, match="409 replay_finished"):
        await calls_of(kind, fake([], finished), script)


def test_a_since_without_a_time_zone_is_refused_before_sending() -> None:
    with Client("http://carrier", "agk_test") as atp, pytest.raises(ValueError, match="zone"):
        atp.start_replay(since=datetime(2026, 5, 27))


# -- against a real carrier ----------------------------------------------------------


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return attrs.evolve(settings, webhook_allow_private=True, webhook_timeout=2.0)


async def finished(atp: Any, replay_id: str, token: str) -> Replay:
    """The replay once it is no longer running."""
    with anyio.fail_after(10):
        while True:
            replay: Replay = await atp.replay(replay_id, token=token)
            if not replay.running:
                return replay
            await anyio.sleep(0.02)


async def handed_out(atp: Any, alpha: Any, beta: Any, text: str) -> tuple[str, str]:
    """A message from alpha to beta, claimed and ACKed: (message id, delivery id)."""
    message_id = (await atp.send(beta.address, hello(text), token=alpha.api_key)).message.id
    claim = await atp.claim(token=beta.api_key)
    assert claim is not None and claim.message.id == message_id
    await atp.ack(claim.delivery_id, "completed", token=beta.api_key)
    return message_id, claim.delivery_id


async def to_the_inbox(atp: Any, account: Any, alpha: Any, beta: Any) -> None:
    """One message and a filtered run to the inbox; refusals; a cancelled run."""
    message_id, delivery_id = await handed_out(atp, alpha, beta, "again")
    one = await atp.replay_message(message_id, target="inbox", token=beta.api_key)
    assert (one.target, one.agent_id, one.total, one.rate_per_second) == (
        "inbox", beta.id, 1, None,
    )  # fmt: skip
    again = await atp.claim(token=beta.api_key)
    assert again is not None and again.message.id == message_id
    assert again.delivery_id == delivery_id and again.document["replay_id"] == one.id
    assert await atp.claim(token=beta.api_key) is None  # handed out once
    one = await finished(atp, one.id, beta.api_key)
    assert (one.state, one.done, one.delivered) == ("completed", 1, 1)
    status = await atp.status(message_id, token=beta.api_key)
    assert status.ack_status == "completed" and len(status.deliveries) == 1  # unchanged
    with pytest.raises(NotFound):  # the sender cannot replay it: it is not its message
        await atp.replay_message(message_id, target="inbox", token=alpha.api_key)

    run = await atp.start_replay(
        target="inbox", status=["completed"], sender=alpha.address, rate_per_second=1000,
        name="completed ones", idempotency_key="run-1", token=beta.api_key,
    )  # fmt: skip
    assert run.filter.status == ("completed",) and run.filter.sender == alpha.address
    same = await atp.start_replay(
        target="inbox", status=["completed"], sender=alpha.address, rate_per_second=1000,
        name="completed ones", idempotency_key="run-1", token=beta.api_key,
    )  # fmt: skip
    assert same.id == run.id  # the same key answers the first start
    run = await finished(atp, run.id, beta.api_key)
    assert (run.state, run.total, run.done, run.delivered) == ("completed", 1, 1, 1)
    assert await atp.replay(run.id, token=account.api_key) == run  # its account reads it
    with pytest.raises(ReplayFinished):
        await atp.cancel_replay(run.id, token=beta.api_key)
    with pytest.raises(NotFound):  # another agent's replay
        await atp.replay(run.id, token=alpha.api_key)
    claimed = await atp.claim(token=beta.api_key)
    assert claimed is not None and claimed.document["replay_id"] == run.id

    await handed_out(atp, alpha, beta, "slow")
    slow = await atp.start_replay(target="inbox", rate_per_second=0.001, token=beta.api_key)
    assert slow.total == 2 and slow.filter == ReplayFilter()
    cancelled = await atp.cancel_replay(slow.id, token=account.api_key)
    assert cancelled.state == "cancelled" and cancelled.finished_at is not None
    assert cancelled.done < cancelled.total
    assert (await atp.cancel_replay(slow.id, token=beta.api_key)).state == "cancelled"

    queued = await atp.send(beta.address, hello("unread"), token=alpha.api_key)
    with pytest.raises(MessageNotDelivered):
        await atp.replay_message(queued.message.id, token=beta.api_key)


async def to_the_webhook(atp: Any, alpha: Any, gamma: Any, url: str) -> str:
    """A pushed message pushed once more; the replay's id."""
    await atp.set_webhook_endpoint(gamma.id, url, token=gamma.api_key)
    pushed = await atp.send(gamma.address, hello("push"), token=alpha.api_key)
    await settled(atp, pushed.message.id, gamma.api_key, "delivered")
    replay = await atp.replay_message(pushed.message.id, token=gamma.api_key)
    assert replay.target == "webhook"
    replay = await finished(atp, replay.id, gamma.api_key)
    assert (replay.state, replay.delivered, replay.failed) == ("completed", 1, 0)
    status = await atp.status(pushed.message.id, token=gamma.api_key)
    assert len(status.deliveries) == 1 and len(status.deliveries[0]["attempts"]) == 1
    return replay.id


class Checked:
    """The client, with every replay it answers held to the OpenAPI document's schema."""

    def __init__(self, client: Any) -> None:
        self._client = client
        schema = openapi_document()["components"]["schemas"]["Replay"]
        self._validator = jsonschema.Draft202012Validator(
            schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
        )
        self.checked = 0

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)

        async def call(*args: Any, **kwargs: Any) -> Any:
            result = await method(*args, **kwargs)
            if isinstance(result, Replay):
                self._validator.validate(result.document)
                self.checked += 1
            return result

        return call


async def every_replay_route(client: Any, url: str) -> str:
    atp = Checked(client)
    account = await atp.signup("Replays")
    alpha = await atp.create_agent("alpha", token=account.api_key)
    beta = await atp.create_agent("beta", token=account.api_key)
    await to_the_inbox(atp, account, alpha, beta)
    receivers = await atp.signup("Receivers")  # a free account holds two agents
    gamma = await atp.create_agent("gamma", token=receivers.api_key)
    await atp.set_sender_policy(gamma.id, "allow", sender_agent_id=alpha.id, token=gamma.api_key)
    replay_id: str = await to_the_webhook(atp, alpha, gamma, url)
    assert atp.checked > 10
    return replay_id


@pytest.mark.parametrize("kind", KINDS)
async def test_every_replay_route_through_each_client(
    kind: str, base_url: str, receiver: Receiver
) -> None:
    url = receiver.url()
    replay_id = await drive(kind, base_url, lambda atp: every_replay_route(atp, url))
    first, again = await receiver.wait_for(2)
    assert "atp-replay-id" not in first.headers and again.headers["atp-replay-id"] == replay_id
    for header in ("webhook-id", "atp-delivery-id", "atp-message-id"):
        assert again.headers[header] == first.headers[header]  # the original delivery's
    assert json.loads(again.body) == json.loads(first.body)
