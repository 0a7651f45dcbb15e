"""Push delivery end to end: a real carrier posts to real receivers on loopback.

Every delivered request is verified three ways: the official ``standardwebhooks``
library (``v1``), PyNaCl (``v1a``) and the reference ``atp-signature`` scheme.
Retry delays are shortened here; their schedule is checked on Trio's mock clock in
``tests/actors/test_webhook_retries.py``. A test that waits for something not to happen
runs its carrier on the mock clock (``open_carrier``) and does not verify signatures:
the official library checks their timestamps against the real clock.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta

import attrs
import nacl.signing
import pytest
import trio
from standardwebhooks import Webhook
from trio.testing import MockClock

from atp.actors import MailboxActor
from atp.client import SignatureError, verify_webhook
from atp.settings import Settings
from atp.webhooks import verify_reference_signature
from tests.api.test_sessions import opened, turn
from tests.support.helpers import Agent, Api, text
from tests.support.mock_clock import open_carrier
from tests.support.receivers import Hang, ReceivedRequest, Receiver, Respond


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return attrs.evolve(
        settings,
        webhook_allow_private=True,  # the receivers listen on loopback
        webhook_retry_delays=(0, 0.2, 0.2),
        webhook_timeout=0.5,
    )


async def pushed_session(api: Api, alpha: Agent, beta: Agent) -> str:
    """A session from alpha to beta (who has an endpoint): opening pushed, then accepted."""
    body = {"to": beta.address, "payload": text("hello")}
    opened = (await api.post("/api/sessions", alpha.token, body)).json()
    await api.settled(beta, opened["message_status"]["message"]["id"], "delivered")
    session_id: str = opened["session"]["id"]
    assert (await api.post(f"/api/sessions/{session_id}/accept", beta.token)).status_code == 201
    return session_id


def verify_all(request: ReceivedRequest, secret: str, public_keys: list[str]) -> None:
    """The request verifies with every scheme, and with every listed public key."""
    headers = request.headers
    Webhook(secret).verify(request.body, headers)  # v1, the official library
    content = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + request.body
    v1a = [s.split(",", 1)[1] for s in headers["webhook-signature"].split() if s.startswith("v1a,")]
    assert len(v1a) == len(public_keys)
    for key, signature in zip(public_keys, v1a, strict=True):
        raw = base64.b64decode(key.removeprefix("whpk_"))
        nacl.signing.VerifyKey(raw).verify(content, base64.b64decode(signature))
    verify_reference_signature(
        headers["atp-signature"], headers["atp-timestamp"], request.body, secret
    )


async def test_a_trusted_message_is_pushed_signed_and_recorded(
    api: Api, receiver: Receiver
) -> None:
    alpha, beta = await api.pair()
    config = await api.webhook_endpoint(beta, receiver.url())
    assert config["endpoint_secret"].startswith("whsec_")
    public_keys = [k["public_key"] for k in config["signing_keys"]]
    assert len(public_keys) == 1 and public_keys[0].startswith("whpk_")

    sent = (await api.send(alpha, beta)).json()
    assert [d["status"] for d in sent["deliveries"]] == ["retry_scheduled"]
    (request,) = await receiver.wait_for(1)

    verify_all(request, config["endpoint_secret"], public_keys)
    delivery_id = sent["deliveries"][0]["id"]
    body = json.loads(request.body)
    assert body["delivery"] == {"id": delivery_id, "mode": "webhook"}
    assert body["message"] == sent["message"]
    assert request.headers["atp-delivery-id"] == delivery_id
    assert request.headers["webhook-id"] == delivery_id
    assert request.headers["atp-message-id"] == sent["message"]["id"]
    assert request.headers["content-type"] == "application/json"
    assert request.path == "/hook"

    status = await api.settled(beta, sent["message"]["id"], "delivered")
    assert status["carrier_status"] == "delivered"
    (delivery,) = status["deliveries"]
    assert delivery["attempt_count"] == 1 and delivery["delivered_at"] is not None
    (attempt,) = delivery["attempts"]
    assert attempt["result"] == "delivered" and attempt["response_status"] == 200
    assert attempt["request_url"] == receiver.url()
    sender_view = (await api.status(alpha.token, sent["message"]["id"])).json()
    assert "request_url" not in sender_view["deliveries"][0]["attempts"][0]
    # Delivered by webhook: polling no longer sees it, and the ACK goes on that delivery.
    assert (await api.claim(beta)).json() == {"delivery": None}
    assert (await api.ack(beta, delivery_id, "completed")).status_code == 201


async def test_untrusted_and_polling_only_messages_are_not_pushed(
    settings: Settings, clock: MockClock, receiver: Receiver
) -> None:
    async with open_carrier(settings) as (api, _):
        alpha, beta = await api.pair()
        stranger = await api.agent(name="stranger")
        await api.webhook_endpoint(beta, receiver.url())
        untrusted = (await api.send(stranger, beta)).json()
        assert untrusted["message"]["trust"] == "untrusted"
        assert untrusted["deliveries"] == []
        polled = (await api.send(beta, alpha)).json()  # alpha has no endpoint
        assert polled["deliveries"] == []
        await trio.sleep(0.3)
        assert receiver.requests == []


async def test_5xx_and_429_are_retried_with_one_webhook_id(api: Api, receiver: Receiver) -> None:
    alpha, beta = await api.pair()
    config = await api.webhook_endpoint(beta, receiver.url())
    receiver.script(Respond(503), Respond(429, headers={"retry-after": "1"}), Respond(204))
    sent = (await api.send(alpha, beta)).json()
    requests = await receiver.wait_for(3)

    assert len({r.headers["webhook-id"] for r in requests}) == 1
    for request in requests:
        verify_all(request, config["endpoint_secret"], [config["signing_keys"][0]["public_key"]])
    status = await api.settled(beta, sent["message"]["id"], "delivered")
    attempts = status["deliveries"][0]["attempts"]
    # The 429's Retry-After (1 s) replaced the schedule's 0.2 s, as recorded.
    waited = datetime.fromisoformat(attempts[1]["next_attempt_at"]) - datetime.fromisoformat(
        attempts[1]["created_at"]
    )
    assert waited == timedelta(seconds=1)
    assert [(a["attempt_number"], a["response_status"], a["result"]) for a in attempts] == [
        (1, 503, "retry_scheduled"),
        (2, 429, "retry_scheduled"),
        (3, 204, "delivered"),
    ]
    assert attempts[0]["next_attempt_at"] is not None


async def test_a_4xx_fails_at_once_and_parks_a_dead_letter(
    settings: Settings, clock: MockClock, receiver: Receiver
) -> None:
    async with open_carrier(settings) as (api, _):
        alpha, beta = await api.pair()
        await api.webhook_endpoint(beta, receiver.url())
        receiver.script(Respond(404))
        sent = (await api.send(alpha, beta)).json()
        message_id = sent["message"]["id"]
        status = await api.settled(beta, message_id, "failed")
        assert status["carrier_status"] == "delivery_failed"
        assert [a["result"] for a in status["deliveries"][0]["attempts"]] == ["failed"]
        await trio.sleep(0.5)
        assert len(receiver.requests) == 1
        assert (await api.claim(beta)).json() == {"delivery": None}  # parked: not pollable

        letters = (await api.get("/api/dead_letters", beta.token)).json()
        assert [d["message_status"]["message"]["id"] for d in letters["dead_letters"]] == [
            message_id
        ]
        assert letters["dead_letters"][0]["dead_lettered_at"] is not None
        assert letters["next_after"] is None
        # Only the recipient sees its dead letters.
        assert (await api.get("/api/dead_letters", alpha.token)).json()["dead_letters"] == []

        # Pages follow the cursor: a second dead letter comes after the first.
        receiver.script(Respond(404))
        second = (await api.send(alpha, beta, key="second")).json()["message"]["id"]
        await api.settled(beta, second, "failed")
        page = (await api.get("/api/dead_letters?limit=1", beta.token)).json()
        assert [d["message_status"]["message"]["id"] for d in page["dead_letters"]] == [message_id]
        assert page["next_after"] == message_id
        rest = (await api.get(f"/api/dead_letters?limit=1&after={message_id}", beta.token)).json()
        assert [d["message_status"]["message"]["id"] for d in rest["dead_letters"]] == [second]


async def test_exhausted_attempts_park_and_a_redrive_delivers(api: Api, receiver: Receiver) -> None:
    alpha, beta = await api.pair()
    await api.webhook_endpoint(beta, receiver.url())
    receiver.script(Respond(500), Respond(502), Respond(500))  # the free plan's 3 attempts
    sent = (await api.send(alpha, beta)).json()
    message_id = sent["message"]["id"]
    status = await api.settled(beta, message_id, "failed")
    assert [a["result"] for a in status["deliveries"][0]["attempts"]] == [
        "retry_scheduled", "retry_scheduled", "failed",
    ]  # fmt: skip
    assert status["carrier_status"] == "delivery_failed"

    receiver.script(Respond(200))
    r = await api.post(f"/api/dead_letters/{message_id}/redrive", beta.token)
    assert r.status_code == 200, r.text
    assert r.json()["carrier_status"] == "queued"
    requests = await receiver.wait_for(4)
    new_delivery = r.json()["deliveries"][-1]["id"]
    assert new_delivery != sent["deliveries"][0]["id"]
    assert requests[3].headers["webhook-id"] == new_delivery
    status = await api.settled(beta, message_id, "delivered")
    assert [d["status"] for d in status["deliveries"]] == ["failed", "delivered"]
    assert (await api.get("/api/dead_letters", beta.token)).json()["dead_letters"] == []
    # No longer a dead letter: a second redrive is refused.
    again = await api.post(f"/api/dead_letters/{message_id}/redrive", beta.token)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "not_dead_lettered"


async def test_a_released_dead_letter_is_claimable_by_polling(api: Api, receiver: Receiver) -> None:
    alpha, beta = await api.pair()
    await api.webhook_endpoint(beta, receiver.url())
    receiver.script(Respond(400))
    message_id = (await api.send(alpha, beta)).json()["message"]["id"]
    await api.settled(beta, message_id, "failed")
    assert (
        await api.post(f"/api/dead_letters/{message_id}/release", alpha.token)
    ).status_code == 404
    r = await api.post(f"/api/dead_letters/{message_id}/release", beta.token)
    assert r.status_code == 200, r.text
    assert r.json()["carrier_status"] == "queued"
    claim = (await api.claim(beta)).json()
    assert claim["message"]["id"] == message_id
    assert (await api.ack(beta, claim["id"], "completed")).status_code == 201
    assert len(receiver.requests) == 1  # released means polling only


async def test_410_gone_disables_the_endpoint(
    settings: Settings, clock: MockClock, receiver: Receiver
) -> None:
    async with open_carrier(settings) as (api, _):
        alpha, beta = await api.pair()
        await api.webhook_endpoint(beta, receiver.url())
        receiver.script(Respond(410))
        first = (await api.send(alpha, beta)).json()["message"]["id"]
        status = await api.settled(beta, first, "failed")
        assert status["deliveries"][0]["attempts"][0]["response_status"] == 410
        # Disabled before the attempt was recorded: the next send is inbox-only.
        assert (await api.send(alpha, beta)).json()["deliveries"] == []
        await trio.sleep(0.3)
        assert len(receiver.requests) == 1
        # Setting the endpoint again turns pushes back on.
        await api.webhook_endpoint(beta, receiver.url())
        assert (await api.send(alpha, beta)).json()["deliveries"] != []
        await receiver.wait_for(2)


async def test_a_hanging_receiver_times_out_and_is_retried(api: Api, receiver: Receiver) -> None:
    alpha, beta = await api.pair()
    await api.webhook_endpoint(beta, receiver.url())
    receiver.script(Hang(), Respond(200))
    message_id = (await api.send(alpha, beta)).json()["message"]["id"]
    status = await api.settled(beta, message_id, "delivered")
    attempts = status["deliveries"][0]["attempts"]
    assert [(a["error"], a["result"]) for a in attempts] == [
        ("timeout", "retry_scheduled"),
        (None, "delivered"),
    ]


async def test_the_authorization_header_goes_to_a2a_receivers(api: Api, receiver: Receiver) -> None:
    alpha, beta = await api.pair()
    auth = {"scheme": "Bearer", "credentials": "a2a-push-token"}
    config = await api.webhook_endpoint(beta, receiver.url(), authentication=auth)
    assert "a2a-push-token" not in json.dumps(config)
    await api.send(alpha, beta)
    (request,) = await receiver.wait_for(1)
    assert request.headers["authorization"] == "Bearer a2a-push-token"
    for bad in ({"scheme": "Bearer"}, {"scheme": "Bea rer", "credentials": "x"},
                {"scheme": "Bearer", "credentials": "x\ny"}, "Bearer x"):  # fmt: skip
        r = await api.put(
            f"/api/agents/{beta.id}/webhook_endpoint", beta.token,
            {"url": receiver.url(), "authentication": bad},
        )  # fmt: skip
        assert r.status_code == 422
        assert r.json()["error"]["code"] == "invalid_webhook_authentication"


async def test_signing_keys_rotate_with_an_overlap(api: Api, receiver: Receiver) -> None:
    alpha, beta = await api.pair()
    config = await api.webhook_endpoint(beta, receiver.url())
    old = config["signing_keys"][0]["public_key"]
    path = f"/api/agents/{beta.id}/webhook_endpoint/signing_keys"
    r = await api.post(path, beta.token, {"overlap_seconds": 3600})
    assert r.status_code == 201, r.text
    keys = r.json()["signing_keys"]
    assert keys[0]["public_key"] == old
    assert keys[0]["retires_at"] is not None and keys[1]["retires_at"] is None
    listed = (await api.get(path, beta.account_token)).json()["signing_keys"]
    assert listed == keys
    assert (await api.get(path, alpha.token)).status_code == 404
    await api.send(alpha, beta)
    (request,) = await receiver.wait_for(1)
    verify_all(request, config["endpoint_secret"], [k["public_key"] for k in keys])

    # With no overlap the old key stops at once.
    keys = (await api.post(path, beta.token, {"overlap_seconds": 0})).json()["signing_keys"]
    assert len(keys) == 1
    await api.send(alpha, beta)
    requests = await receiver.wait_for(2)
    verify_all(requests[1], config["endpoint_secret"], [keys[0]["public_key"]])
    bad = await api.post(path, beta.token, {"overlap_seconds": -1})
    assert bad.status_code == 422


async def test_a_polling_lease_holds_back_the_webhook_until_acked(
    settings: Settings, clock: MockClock, receiver: Receiver
) -> None:
    async with open_carrier(settings) as (api, _):
        alpha, beta = await api.pair()
        await api.webhook_endpoint(beta, receiver.url())
        receiver.script(Respond(503, headers={"retry-after": "2"}))
        message_id = (await api.send(alpha, beta)).json()["message"]["id"]
        await api.settled(beta, message_id, "retry_scheduled")
        claim = (await api.claim(beta)).json()  # polling takes it while the webhook waits
        assert claim["message"]["id"] == message_id
        await trio.sleep(2.5)
        assert len(receiver.requests) == 1  # the single active lease holds
        assert (await api.ack(beta, claim["id"], "completed")).status_code == 201
        status = (await api.status(beta.token, message_id)).json()
        webhook = status["deliveries"][0]
        assert (webhook["status"], webhook["last_error"]) == ("failed", "message_acked")
        await trio.sleep(0.3)
        assert len(receiver.requests) == 1


async def test_session_turns_are_pushed_in_sequence_order(api: Api, receiver: Receiver) -> None:
    alpha, beta = await api.pair()
    await api.webhook_endpoint(beta, receiver.url())
    session_id = await pushed_session(api, alpha, beta)
    # Turn 2 fails once; turn 3 must not overtake it.
    receiver.script(Respond(503, headers={"retry-after": "1"}))
    for words in ("two", "three"):
        path = f"/api/sessions/{session_id}/messages"
        assert (await api.post(path, alpha.token, {"payload": text(words)})).status_code == 201
    requests = await receiver.wait_for(4)
    sequences = [json.loads(r.body)["message"].get("session_sequence") for r in requests]
    assert sequences == [1, 2, 2, 3]


async def test_a_turn_in_a_webhook_attempt_holds_back_polling_of_the_next(
    api: Api, receiver: Receiver
) -> None:
    alpha, beta = await api.pair()
    await api.webhook_endpoint(beta, receiver.url())
    session_id = await pushed_session(api, alpha, beta)
    receiver.script(Hang())  # turn 2's attempt hangs (until its 1.5 s deadline)
    for words in ("two", "three"):
        path = f"/api/sessions/{session_id}/messages"
        assert (await api.post(path, alpha.token, {"payload": text(words)})).status_code == 201
    await receiver.wait_for(2)
    # Turn 3 waits for turn 2, which is neither delivered nor under a polling lease.
    assert (await api.claim(beta)).json() == {"delivery": None}


async def test_a_turn_held_behind_a_polled_one_waits_without_spinning(
    settings: Settings, clock: MockClock, receiver: Receiver
) -> None:
    async with open_carrier(settings) as (api, runtime):
        alpha, beta, session_id = await opened(api)
        one = (await turn(api, alpha, session_id, "one")).json()  # beta polls: no endpoint yet
        await api.webhook_endpoint(beta, receiver.url())
        await turn(api, alpha, session_id, "two")  # due for a push, but turn one goes first
        mailbox = runtime.supervisor.running(MailboxActor, beta.id)
        assert mailbox is not None
        batches = mailbox.statistics().batches
        await trio.sleep(0.5)
        # Nothing to do until turn one moves on: no timer may fire for turn two meanwhile.
        assert mailbox.statistics().batches - batches <= 2
        assert receiver.requests == []
        claim = (await api.claim(beta)).json()
        assert claim["message"]["id"] == one["message_status"]["message"]["id"]
        pushed = await receiver.wait_for(1)
        assert json.loads(pushed[0].body)["message"]["session_sequence"] == 3


async def test_a_parked_opening_can_still_be_accepted(api: Api, receiver: Receiver) -> None:
    alpha, beta = await api.pair()
    await api.webhook_endpoint(beta, receiver.url())
    receiver.script(Respond(404))
    opened = await api.post(
        "/api/sessions", alpha.token, {"to": beta.address, "payload": text("hello")}
    )
    opening = opened.json()["message_status"]["message"]["id"]
    await api.settled(beta, opening, "failed")  # a dead letter now
    r = await api.post(f"/api/sessions/{opened.json()['session']['id']}/accept", beta.token)
    assert r.status_code == 201, r.text
    assert r.json()["session"]["status"] == "open"
    assert r.json()["message_status"]["carrier_status"] == "delivered"


async def test_a_turn_delivered_by_webhook_lets_polling_have_the_next(
    api: Api, receiver: Receiver
) -> None:
    alpha, beta = await api.pair()
    await api.webhook_endpoint(beta, receiver.url())
    session_id = await pushed_session(api, alpha, beta)
    receiver.script(Respond(200), Respond(503, headers={"retry-after": "60"}))
    path = f"/api/sessions/{session_id}/messages"
    two = (await api.post(path, alpha.token, {"payload": text("two")})).json()
    three = (await api.post(path, alpha.token, {"payload": text("three")})).json()
    await api.settled(beta, two["message_status"]["message"]["id"], "delivered")
    await api.settled(beta, three["message_status"]["message"]["id"], "retry_scheduled")
    claim = (await api.claim(beta)).json()  # turn 2 was delivered: turn 3 is next
    assert claim["message"]["session_sequence"] == 3


async def test_the_client_helper_verifies_a_real_push(api: Api, receiver: Receiver) -> None:
    alpha, beta = await api.pair()
    config = await api.webhook_endpoint(beta, receiver.url())
    await api.send(alpha, beta)
    (request,) = await receiver.wait_for(1)
    secret, public_key = config["endpoint_secret"], config["signing_keys"][0]["public_key"]
    verify_webhook(request.headers, request.body, secret=secret)
    verify_webhook(request.headers, request.body, public_key=public_key)
    reference_only = {k: v for k, v in request.headers.items() if not k.startswith("webhook-")}
    verify_webhook(reference_only, request.body, secret=secret)
    for headers in (request.headers, reference_only):
        with pytest.raises(SignatureError):
            verify_webhook(headers, request.body + b" ", secret=secret)
