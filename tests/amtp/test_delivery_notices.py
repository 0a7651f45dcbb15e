"""AMTP delivery-notification webhooks (``/v1/webhooks``): registered by an agent or its
account, signed notices of each recipient delivered or failed, sent to a real HTTP
receiver, once each, also across a restart."""

from __future__ import annotations

import json
from typing import Any

import attrs
import httpx
import pytest
import trio

from atp.actors import Runtime
from atp.serve import open_runtime, serve_http
from atp.settings import Settings
from atp.webhooks import verify_standard
from tests.support.a2a import until
from tests.support.helpers import Api
from tests.support.receivers import ReceivedRequest, Receiver, Respond, open_receiver

DOMAIN = "one.test"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # Receivers listen on loopback; a push is tried once, so a dead one fails at once.
    return attrs.evolve(
        settings,
        domain=DOMAIN,
        webhook_allow_private=True,
        webhook_max_attempts={"free": 1, "basic": 8},
    )


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def register(api: Api, admin: str, name: str, **extra: Any) -> dict[str, Any]:
    r = await api.client.post(
        "/v1/admin/agents", json={"address": name, **extra}, headers={"X-Admin-Key": admin}
    )
    assert r.status_code == 201, r.text
    agent: dict[str, Any] = r.json()["agent"]
    return agent


async def hook(api: Api, headers: dict[str, str], **body: Any) -> httpx.Response:
    return await api.client.post("/v1/webhooks", json=body, headers=headers)


def notice(request: ReceivedRequest, secret: str) -> dict[str, Any]:
    """A notice's body, once its signature verified with ``secret``."""
    verify_standard(request.headers, request.body, whsec=secret)
    body: dict[str, Any] = json.loads(request.body)
    return body


async def test_webhooks_are_registered_listed_and_removed_by_their_owners(api: Api) -> None:
    admin = await api.signup()
    alice = await register(api, admin, "alice")
    bob = await register(api, admin, "bob")
    url = "http://127.0.0.1:9/hook"

    mine = await hook(api, bearer(alice["api_key"]), url=url)
    assert mine.status_code == 201, mine.text
    created = mine.json()
    assert created["events"] == ["message.delivered", "message.failed"]
    assert created["scope"] == "agent" and created["secret"].startswith("whsec_")
    # The same registration again is the same webhook; other events for the URL are not.
    again = await hook(api, bearer(alice["api_key"]), url=url)
    assert again.status_code == 200 and again.json() == {**created, "secret": created["secret"]}
    other = await hook(api, bearer(alice["api_key"]), url=url, events=["message.failed"])
    assert other.status_code == 409 and other.json()["error"]["code"] == "WEBHOOK_EXISTS"

    secret = "whsec_" + "A" * 32  # 24 bytes, as base64
    accounts = await hook(
        api, {"X-Admin-Key": admin}, url=url, events=["message.failed"], secret=secret
    )
    assert accounts.status_code == 201 and accounts.json()["scope"] == "account"
    assert accounts.json()["secret"] == secret

    for n in range(19):  # the account's 20 in all; its agents' do not count
        more = await hook(api, {"X-Admin-Key": admin}, url=f"http://127.0.0.1:9/{n}")
        assert more.status_code == 201, more.text
    full = await hook(api, {"X-Admin-Key": admin}, url="http://127.0.0.1:9/21")
    assert full.status_code == 409 and full.json()["error"]["code"] == "WEBHOOK_LIMIT_REACHED"
    kept = await hook(api, {"X-Admin-Key": admin}, url="http://127.0.0.1:9/0")
    assert kept.status_code == 200  # one it has, asked for again, is still answered

    for bad, field in (
        ({"url": "ftp://example.com/x"}, "url"),
        ({"url": url, "events": []}, "events"),
        ({"url": url, "events": ["message.read"]}, "events"),
        ({"url": url, "secret": "not-a-secret"}, "secret"),
    ):
        r = await hook(api, bearer(bob["api_key"]), **bad)
        assert r.status_code == 400, r.text
        error = r.json()["error"]
        assert error["code"] == "VALIDATION_FAILED" and error["details"]["field"] == field
        assert "not-a-secret" not in r.text
    r = await api.client.post("/v1/webhooks", json={"url": url})
    assert r.status_code == 401

    # An agent sees its own; the account sees all; nobody sees a secret again.
    seen = await api.client.get("/v1/webhooks", headers=bearer(alice["api_key"]))
    assert [w["webhook_id"] for w in seen.json()["webhooks"]] == [created["webhook_id"]]
    listed = await api.client.get("/v1/webhooks", headers={"X-Admin-Key": admin})
    assert listed.json()["count"] == 21 and "secret" not in listed.text
    bobs = await api.client.get(
        f"/v1/webhooks/{created['webhook_id']}", headers=bearer(bob["api_key"])
    )
    assert bobs.status_code == 404 and bobs.json()["error"]["code"] == "WEBHOOK_NOT_FOUND"
    path = f"/v1/webhooks/{created['webhook_id']}"
    assert (await api.client.delete(path, headers=bearer(bob["api_key"]))).status_code == 404

    gone = await api.client.delete(path, headers=bearer(alice["api_key"]))
    assert gone.status_code == 200 and gone.json()["status"] == "deleted"
    assert (await api.client.get(path, headers=bearer(alice["api_key"]))).status_code == 404
    anew = await hook(api, bearer(alice["api_key"]), url=url)
    assert anew.status_code == 201 and anew.json()["webhook_id"] != created["webhook_id"]


async def test_a_senders_webhooks_hear_of_each_recipient_delivered_or_failed(
    api: Api, receiver: Receiver, runtime: Runtime
) -> None:
    admin = await api.signup()
    alice = await register(api, admin, "alice")
    bob = await register(api, await api.signup(), "bob")
    async with open_receiver(default=Respond(500)) as dead:
        carol = await register(api, admin, "carol", delivery_mode="push", push_target=dead.url())
        mine = (await hook(api, bearer(alice["api_key"]), url=receiver.url("/alice"))).json()
        accounts = await hook(
            api, {"X-Admin-Key": admin}, url=receiver.url("/all"), events=["message.failed"]
        )
        everything = accounts.json()
        message = {
            "version": "1.0",
            "sender": alice["address"],
            "recipients": [bob["address"], carol["address"]],
            "payload": {"n": 1},
        }
        sent = await api.client.post("/v1/messages", json=message, headers=bearer(alice["api_key"]))
        assert sent.status_code == 202, sent.text
        message_id = sent.json()["message_id"]
        taken = await api.client.delete(  # bob takes it: delivered (and acknowledged)
            f"/v1/inbox/{bob['address']}/{message_id}", headers=bearer(bob["api_key"])
        )
        assert taken.status_code == 200, taken.text
        requests = await receiver.wait_for(3)

    told = {}
    for request in requests:
        secret = mine["secret"] if request.path == "/alice" else everything["secret"]
        body = notice(request, secret)
        data = body["data"]
        assert data["message_id"] == message_id and data["sender"] == alice["address"]
        told[(request.path, data["recipient"], body["type"])] = (data, request.headers)
    assert set(told) == {
        ("/alice", bob["address"], "message.delivered"),
        ("/alice", carol["address"], "message.failed"),
        ("/all", carol["address"], "message.failed"),
    }
    failed, _ = told[("/alice", carol["address"], "message.failed")]
    assert failed["status"] == "failed" and failed["error_code"] == "RECIPIENT_UNAVAILABLE"
    assert len({headers["webhook-id"] for _, headers in told.values()}) == 3

    async def settled() -> bool:
        return await runtime.context.queries.amtp.owed_notices() == []

    await until(settled, seconds=10)
    await trio.sleep(0.5)
    assert len(receiver.requests) == 3  # nothing told twice
    metrics = (await api.client.get("/metrics")).text
    assert 'atp_amtp_notices_total{result="delivered"} 3.0' in metrics
    assert "atp_amtp_messages_followed 0.0" in metrics


async def test_a_notice_owed_when_the_carrier_stops_is_sent_after_it_restarts(
    settings: Settings, receiver: Receiver
) -> None:
    settings = attrs.evolve(
        settings, webhook_retry_delays=(0, 600), webhook_max_attempts={"free": 3}
    )
    receiver.script(Respond(503))  # the first attempt fails; the next is 10 minutes off
    async with open_runtime(settings) as runtime, trio.open_nursery() as nursery:
        shutdown = trio.Event()
        (url,) = await nursery.start(serve_http, runtime, shutdown)
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            api = Api(client)
            admin = await api.signup()
            alice = await register(api, admin, "alice")
            bob = await register(api, admin, "bob")
            mine = (await hook(api, bearer(alice["api_key"]), url=receiver.url())).json()
            message = {"sender": alice["address"], "recipients": [bob["address"]], "payload": 1}
            r = await client.post("/v1/messages", json=message, headers=bearer(alice["api_key"]))
            assert r.status_code == 202, r.text
            path = f"/v1/inbox/{bob['address']}/{r.json()['message_id']}"
            await client.delete(path, headers=bearer(bob["api_key"]))
            (first,) = await receiver.wait_for(1)
        shutdown.set()

    async with open_runtime(settings) as runtime:  # the sweep at start follows it again
        (_, again) = await receiver.wait_for(2)
        assert again.headers["webhook-id"] == first.headers["webhook-id"]
        assert notice(again, mine["secret"])["data"]["recipient"] == bob["address"]

        async def settled() -> bool:
            return await runtime.context.queries.amtp.owed_notices() == []

        await until(settled, seconds=10)
