"""Replays over HTTP: one message or a filtered window, to a real receiver or the inbox.

Every replayed push is verified with the official ``standardwebhooks`` library (and
the other schemes, as every push is): the original delivery's id travels again as
``webhook-id``, signed with the endpoint's current secret, and the message's own
record (deliveries, statuses, ACKs) stays as it was.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import attrs
import pytest
import trio

from atp.settings import Settings
from tests.api.test_webhooks import verify_all
from tests.support.helpers import Agent, Api, as_stored, text
from tests.support.receivers import Receiver, Respond


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return attrs.evolve(settings, webhook_allow_private=True, webhook_timeout=1.0)


async def pushed(api: Api, alpha: Agent, beta: Agent, receiver: Receiver, n: int) -> list[str]:
    """``n`` messages from alpha pushed to beta's receiver; their ids, in order."""
    ids = []
    for i in range(n):
        sent = (await api.send(alpha, beta, text(f"m-{i}", f"hello {i}"))).json()
        ids.append(sent["message"]["id"])
        await api.settled(beta, ids[-1], "delivered")
    return ids


async def history_types(api: Api, token: str, message_id: str) -> list[str]:
    r = await api.get(f"/api/messages/{message_id}/history", token)
    assert r.status_code == 200, r.text
    return [e["record"]["type"] for e in r.json()["history"]]


async def test_one_message_is_pushed_again_as_its_original_delivery(
    api: Api, receiver: Receiver
) -> None:
    alpha, beta = await api.pair()
    endpoint = await api.webhook_endpoint(beta, receiver.url())
    (message_id,) = await pushed(api, alpha, beta, receiver, 1)
    before = (await api.status(beta.token, message_id)).json()

    # A new secret since: the replay is signed with today's.
    endpoint = await api.webhook_endpoint(beta, receiver.url("/new"))
    r = await api.post(f"/api/messages/{message_id}/replay", beta.token, {})
    assert r.status_code == 202, r.text
    replay = r.json()["replay"]
    assert replay["id"].startswith("rpl_") and replay["total"] == 1
    assert replay["target"] == "webhook" and replay["rate_per_second"] is None

    original, again = await receiver.wait_for(2)
    keys = [k["public_key"] for k in endpoint["signing_keys"]]
    verify_all(again, endpoint["endpoint_secret"], keys)
    assert again.path == "/new"
    assert again.headers["webhook-id"] == original.headers["webhook-id"]
    assert again.headers["webhook-id"] == before["deliveries"][0]["id"]
    assert again.headers["atp-replay-id"] == replay["id"]
    assert json.loads(again.body) == json.loads(original.body)

    done = await api.replay_finished(beta.token, replay["id"])
    assert (done["state"], done["done"], done["delivered"], done["failed"]) == (
        "completed", 1, 1, 0
    )  # fmt: skip
    assert as_stored((await api.status(beta.token, message_id)).json()) == as_stored(before)
    types = await history_types(api, beta.token, message_id)
    assert types[-2:] == ["replay.attempt_started", "replay.attempt_recorded"]
    r = await api.get(f"/api/messages/{message_id}/history", beta.token)
    assert "HTTP 200" in r.json()["history"][-1]["description"]


async def test_a_failed_push_is_one_attempt_recorded_failed(api: Api, receiver: Receiver) -> None:
    alpha, beta = await api.pair()
    await api.webhook_endpoint(beta, receiver.url())
    (message_id,) = await pushed(api, alpha, beta, receiver, 1)
    receiver.script(Respond(503))
    r = await api.post(f"/api/messages/{message_id}/replay", beta.token, {"target": "webhook"})
    done = await api.replay_finished(beta.token, r.json()["replay"]["id"])
    assert (done["delivered"], done["failed"]) == (0, 1)
    await trio.sleep(0.3)
    assert len(receiver.requests) == 2  # never retried


async def test_a_replay_answered_410_switches_the_endpoint_off(
    api: Api, receiver: Receiver
) -> None:
    alpha, beta = await api.pair()
    await api.webhook_endpoint(beta, receiver.url())
    (message_id,) = await pushed(api, alpha, beta, receiver, 1)
    receiver.script(Respond(410))
    r = await api.post(f"/api/messages/{message_id}/replay", beta.token)
    done = await api.replay_finished(beta.token, r.json()["replay"]["id"])
    assert (done["failed"], done["delivered"]) == (1, 0)
    # As after any push answered 410: the next send is inbox-only.
    assert (await api.send(alpha, beta)).json()["deliveries"] == []


async def test_an_inbox_replay_is_handed_out_once_by_a_claim(api: Api) -> None:
    alpha, beta = await api.pair()
    sent = (await api.send(alpha, beta)).json()
    message_id = sent["message"]["id"]
    delivery = (await api.claim(beta)).json()
    assert (await api.ack(beta, delivery["id"], "completed")).status_code == 201
    before = (await api.status(beta.token, message_id)).json()
    assert (await api.claim(beta)).json() == {"delivery": None}

    r = await api.post(f"/api/messages/{message_id}/replay", beta.token, {"target": "inbox"})
    assert r.status_code == 202, r.text
    replay = await api.replay_finished(beta.token, r.json()["replay"]["id"])
    assert replay["delivered"] == 1

    handed = (await api.claim(beta)).json()
    assert handed["id"] == delivery["id"] and handed["replay_id"] == replay["id"]
    assert handed["message"] == delivery["message"]
    assert (await api.claim(beta)).json() == {"delivery": None}  # once
    assert as_stored((await api.status(beta.token, message_id)).json()) == as_stored(before)
    # The ACK rules are the original delivery's: the message was completed.
    assert (await api.ack(beta, handed["id"], "completed")).status_code == 409


async def test_a_window_is_replayed_once_each_in_order(api: Api, receiver: Receiver) -> None:
    alpha, beta = await api.pair()
    gamma = await api.agent(name="gamma")  # another account: untrusted, so polled
    await api.webhook_endpoint(beta, receiver.url())
    early = await pushed(api, alpha, beta, receiver, 2)
    await trio.sleep(0.01)
    since = datetime.now(UTC)
    window = await pushed(api, alpha, beta, receiver, 3)
    other = (await api.send(gamma, beta)).json()["message"]["id"]
    assert (await api.claim(beta)).json()["message"]["id"] == other  # handed out
    await trio.sleep(0.01)
    until = datetime.now(UTC)
    late = await pushed(api, alpha, beta, receiver, 1)
    seen = len(receiver.requests)

    body = {
        "filter": {"since": since.isoformat(), "until": until.isoformat(),
                   "status": ["delivered"], "sender": alpha.address},
        "target": "webhook", "rate_per_second": 50, "name": "window",
    }  # fmt: skip
    r = await api.post("/api/replays", beta.token, body)
    assert r.status_code == 202, r.text
    replay = await api.replay_finished(beta.token, r.json()["replay"]["id"])
    assert (replay["total"], replay["done"], replay["delivered"]) == (3, 3, 3)
    assert replay["name"] == "window" and replay["filter"]["sender"] == alpha.address

    await trio.sleep(0.2)
    replayed = receiver.requests[seen:]
    assert [json.loads(q.body)["message"]["id"] for q in replayed] == window
    assert not {*early, other, *late} & {json.loads(q.body)["message"]["id"] for q in replayed}


async def test_cancel_stops_a_replay(api: Api, receiver: Receiver) -> None:
    alpha, beta = await api.pair()
    await api.webhook_endpoint(beta, receiver.url())
    await pushed(api, alpha, beta, receiver, 4)
    seen = len(receiver.requests)
    r = await api.post("/api/replays", beta.token, {"rate_per_second": 2})
    replay_id = r.json()["replay"]["id"]
    await receiver.wait_for(seen + 1)
    r = await api.post(f"/api/replays/{replay_id}/cancel", beta.account_token)
    assert r.status_code == 200, r.text
    cancelled = r.json()["replay"]
    assert cancelled["state"] == "cancelled" and cancelled["finished_at"] is not None
    await trio.sleep(1.2)
    assert len(receiver.requests) - seen == cancelled["done"] < 4
    again = await api.post(f"/api/replays/{replay_id}/cancel", beta.token)
    assert again.json()["replay"] == cancelled  # cancelling twice changes nothing


async def test_bad_requests_change_nothing(api: Api, receiver: Receiver) -> None:
    alpha, beta = await api.pair()
    stranger = await api.agent()
    claimed = (await api.send(alpha, beta)).json()["message"]["id"]
    assert (await api.claim(beta)).json()["message"]["id"] == claimed
    queued = (await api.send(alpha, beta)).json()["message"]["id"]
    path = f"/api/messages/{queued}/replay"
    cases = [
        (path, beta.token, {"target": "inbox"}, 409, "message_not_delivered"),
        (path, stranger.token, {}, 404, "not_found"),
        (f"/api/messages/{claimed}/replay", beta.token, {}, 409, "webhook_endpoint_inactive"),
        (path, beta.token, {"target": "email"}, 422, "invalid_request"),
        (path, beta.account_token, {}, 403, "agent_key_required"),
        ("/api/replays", beta.token, {"rate_per_second": 0, "target": "inbox"}, 422,
         "invalid_request"),
        ("/api/replays", beta.token, {"rate_per_second": "5", "target": "inbox"}, 422,
         "invalid_request"),
        ("/api/replays", beta.token, {"filter": {"since": "yesterday"}, "target": "inbox"},
         422, "invalid_request"),
        ("/api/replays", beta.token, {"filter": {"status": ["lost"]}, "target": "inbox"},
         422, "invalid_request"),
    ]  # fmt: skip
    for route, token, body, status, code in cases:
        r = await api.post(route, token, body)
        assert (r.status_code, r.json()["error"]["code"]) == (status, code), (route, body)
    for message_id in (claimed, queued):
        assert "replay" not in " ".join(await history_types(api, beta.token, message_id))


async def test_only_the_replays_agent_and_its_account_see_it(api: Api) -> None:
    alpha, beta = await api.pair()
    stranger = await api.agent()
    sent = (await api.send(alpha, beta)).json()
    delivery = (await api.claim(beta)).json()
    await api.ack(beta, delivery["id"], "completed")
    r = await api.post("/api/replays", beta.token, {"target": "inbox"})
    replay_id = r.json()["replay"]["id"]
    await api.replay_finished(beta.token, replay_id)
    auditor = (await api.post("/api/auditor_keys", beta.account_token)).json()["token"]

    path = f"/api/replays/{replay_id}"
    assert (await api.get(path, beta.account_token)).status_code == 200
    for token in (alpha.token, stranger.token, stranger.account_token):
        assert (await api.get(path, token)).status_code == 404
    assert (await api.get(path, auditor)).status_code == 403
    message_path = f"/api/replays/{sent['message']['id']}"
    assert (await api.get(message_path, beta.token)).status_code == 404
    r = await api.post(f"{path}/cancel", beta.token)
    assert (r.status_code, r.json()["error"]["code"]) == (409, "replay_finished")
