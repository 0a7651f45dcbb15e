"""The AMTP v1.0 surface (``/v1``) on one carrier: admin registration, sends to many
local recipients, inboxes, acknowledgments, statuses and lists, over a real Hypercorn."""

from __future__ import annotations

import json
import uuid
from typing import Any

import attrs
import httpx
import pytest

from atp.amtp import parse_txt
from atp.settings import Settings
from tests.support.helpers import Api, text
from tests.support.receivers import Receiver

DOMAIN = "one.test"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # The push test's receiver listens on loopback.
    return attrs.evolve(settings, domain=DOMAIN, webhook_allow_private=True)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def register(api: Api, admin: str, address: str) -> dict[str, Any]:
    r = await api.client.post(
        "/v1/admin/agents", json={"address": address}, headers={"X-Admin-Key": admin}
    )
    assert r.status_code == 201, r.text
    agent: dict[str, Any] = r.json()["agent"]
    return agent


async def send(api: Api, key: str, message: dict[str, Any]) -> httpx.Response:
    return await api.client.post("/v1/messages", json=message, headers=bearer(key))


async def inbox(api: Api, agent: dict[str, Any], query: str = "") -> dict[str, Any]:
    path = f"/v1/inbox/{agent['address']}{query}"
    r = await api.client.get(path, headers=bearer(agent["api_key"]))
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def note(sender: dict[str, Any], to: dict[str, Any], payload: Any) -> dict[str, Any]:
    """The four-field minimal message."""
    return {
        "version": "1.0",
        "sender": sender["address"],
        "recipients": [to["address"]],
        "payload": payload,
    }


def error_code(response: httpx.Response) -> str:
    error = response.json()["error"]
    assert error["timestamp"] and error["request_id"] and error["message"]
    code: str = error["code"]
    return code


async def test_a_message_to_many_local_agents_reaches_each_once(api: Api) -> None:
    admin = await api.signup()
    alice = await register(api, admin, f"alice@{DOMAIN}")  # a full address
    bob = await register(api, admin, "Bob")  # a bare name, kept in lower case
    carol = await register(api, await api.signup(), "carol")  # another account's agent
    assert alice["address"] == f"alice@{DOMAIN}" and bob["address"] == f"bob@{DOMAIN}"

    minimal = {
        "version": "1.0",
        "sender": alice["address"],
        "recipients": [bob["address"], f"CAROL@{DOMAIN.upper()}", bob["address"]],
        "payload": {"order": 7},
    }
    r = await send(api, alice["api_key"], minimal)
    assert r.status_code == 202, r.text
    sent = r.json()
    assert sent["status"] == "accepted"
    assert uuid.UUID(sent["message_id"]).version == 7  # made by the gateway
    assert [x["address"] for x in sent["recipients"]] == [bob["address"], carol["address"]]
    assert {x["status"] for x in sent["recipients"]} == {"queued"}

    for agent in (bob, carol):
        box = await inbox(api, agent)
        assert box["recipient"] == agent["address"]
        assert box["message_count"] == box["count"] == 1 and box["has_more"] is False
        (got,) = box["messages"]
        assert got["message_id"] == sent["message_id"]
        assert got["sender"] == alice["address"]
        assert got["payload"] == {"order": 7}
        assert got["status"] == "unread"

    # The native API shows the same message, from alice's agent to bob's.
    status = (await api.client.get(f"/v1/messages/{sent['message_id']}/status",
                                   headers=bearer(alice["api_key"]))).json()  # fmt: skip
    assert status["status"] == "queued"
    local_id = status["recipients"][0]["message_id"]
    native = await api.get(f"/api/messages/{local_id}", bob["api_key"])
    assert native.status_code == 200, native.text
    assert native.json()["message"]["payload"]["metadata"]["amtp"]["sender"] == alice["address"]

    acked = await api.client.delete(
        f"/v1/inbox/{bob['address']}/{sent['message_id']}", headers=bearer(bob["api_key"])
    )
    assert acked.status_code == 200, acked.text
    assert acked.json()["status"] == "acknowledged"
    again = await api.client.delete(
        f"/v1/inbox/{bob['address']}/{sent['message_id']}", headers=bearer(bob["api_key"])
    )
    assert again.status_code == 200 and again.json() == acked.json()  # answered as before
    assert (await inbox(api, bob))["messages"] == []
    assert len((await inbox(api, carol))["messages"]) == 1

    status = (await api.client.get(f"/v1/messages/{sent['message_id']}/status",
                                   headers=bearer(carol["api_key"]))).json()  # fmt: skip
    by_address = {x["address"]: x for x in status["recipients"]}
    assert by_address[bob["address"]]["status"] == "delivered"
    assert by_address[bob["address"]]["acknowledged"] is True
    assert by_address[carol["address"]]["status"] == "queued"
    assert status["status"] == "delivering"


async def test_a_send_retried_with_its_key_queues_nothing_twice(api: Api) -> None:
    admin = await api.signup()
    alice, bob = await register(api, admin, "alice"), await register(api, admin, "bob")
    message = {
        "sender": alice["address"],
        "recipients": [bob["address"]],
        "idempotency_key": str(uuid.uuid4()),
        "payload": "hello",
    }
    first = await send(api, alice["api_key"], message)
    second = await send(api, alice["api_key"], message)  # no message_id: the key decides
    assert first.status_code == second.status_code == 202
    assert first.json() == second.json()
    assert len((await inbox(api, bob))["messages"]) == 1
    changed = await send(api, alice["api_key"], {**message, "payload": "other"})
    assert changed.status_code == 409 and error_code(changed) == "IDEMPOTENCY_CONFLICT"

    by_id = {"sender": alice["address"], "recipients": [bob["address"]], "payload": 1,
             "message_id": str(uuid.uuid4())}  # fmt: skip
    assert (await send(api, alice["api_key"], by_id)).status_code == 202
    assert (await send(api, alice["api_key"], by_id)).status_code == 202  # a replay
    taken = await send(api, alice["api_key"], {**by_id, "idempotency_key": "another"})
    assert taken.status_code == 409 and error_code(taken) == "DUPLICATE_MESSAGE_ID"
    assert len((await inbox(api, bob))["messages"]) == 2


async def test_bad_sends_are_refused_and_change_nothing(api: Api) -> None:
    admin = await api.signup()
    alice, bob = await register(api, admin, "alice"), await register(api, admin, "bob")
    ok = {"sender": alice["address"], "recipients": [bob["address"]], "payload": {}}
    cases: list[tuple[Any, int, str]] = [
        ({**ok, "recipients": [bob["address"], f"nobody@{DOMAIN}"]}, 404, "AGENT_UNKNOWN"),
        ({**ok, "sender": bob["address"]}, 403, "ACCESS_DENIED"),
        ({**ok, "version": "2.0"}, 400, "UNSUPPORTED_VERSION"),
        ({**ok, "recipients": []}, 400, "INVALID_MESSAGE_FORMAT"),
        ({**ok, "recipients": ["not an address"]}, 400, "INVALID_RECIPIENT"),
        ({**ok, "message_id": "123"}, 400, "INVALID_MESSAGE_FORMAT"),
        ({**ok, "schema": "orders"}, 400, "INVALID_MESSAGE_FORMAT"),
        ({**ok, "timestamp": "yesterday"}, 400, "INVALID_MESSAGE_FORMAT"),
        ({**ok, "attachments": [{"filename": "a"}]}, 400, "INVALID_MESSAGE_FORMAT"),
        ({**ok, "payload": "x" * 70_000}, 413, "MESSAGE_TOO_LARGE"),
        ([ok], 400, "INVALID_MESSAGE_FORMAT"),
    ]
    for body, status, code in cases:
        r = await send(api, alice["api_key"], body)
        assert (r.status_code, error_code(r)) == (status, code), (body, r.text)
    raw = await api.client.post(
        "/v1/messages", content=b"{not json", headers={**bearer(alice["api_key"]),
                                                       "content-type": "application/json"}
    )  # fmt: skip
    assert raw.status_code == 400 and error_code(raw) == "INVALID_MESSAGE_FORMAT"
    unsigned = await api.client.post("/v1/messages", json=ok)
    assert unsigned.status_code == 401 and error_code(unsigned) == "AUTHENTICATION_FAILED"
    assert (await inbox(api, bob))["messages"] == []


async def test_an_inbox_is_its_agents_own_and_pages(api: Api) -> None:
    admin = await api.signup()
    alice, bob = await register(api, admin, "alice"), await register(api, admin, "bob")
    for n in range(5):
        r = await send(api, alice["api_key"], note(alice, bob, n))
        assert r.status_code == 202
    page = await inbox(api, bob, "?limit=2&offset=1")
    assert [m["payload"] for m in page["messages"]] == [1, 2] and page["has_more"] is True
    last = await inbox(api, bob, "?limit=2&offset=4")
    assert [m["payload"] for m in last["messages"]] == [4] and last["has_more"] is False
    # A native claim hands one out: read, no longer unread.
    claimed = await api.post("/api/inbox/claims", bob["api_key"], {})
    assert claimed.status_code == 201, claimed.text
    assert len((await inbox(api, bob, "?status=read"))["messages"]) == 1
    assert len((await inbox(api, bob, "?status=unread"))["messages"]) == 4
    future = await inbox(api, bob, "?since=2999-01-01T00:00:00Z")
    assert future["messages"] == []
    other = await api.client.get(f"/v1/inbox/{bob['address']}", headers=bearer(alice["api_key"]))
    assert other.status_code == 403 and error_code(other) == "ACCESS_DENIED"
    bad = await api.client.get(f"/v1/inbox/{bob['address']}?limit=0",
                               headers=bearer(bob["api_key"]))  # fmt: skip
    assert bad.status_code == 400


async def test_a_native_message_shows_in_the_amtp_inbox(api: Api) -> None:
    admin = await api.signup()
    bob = await register(api, admin, "bob")
    native = await api.agent(admin, "plain")  # no name: <agent id>@domain
    sent = await api.post("/api/messages", native.token, {"to": f"bob@{DOMAIN}", "payload": text()})
    assert sent.status_code == 201, sent.text
    (got,) = (await inbox(api, bob))["messages"]
    assert got["message_id"] == sent.json()["message"]["id"]
    assert got["sender"] == f"{native.id}@{DOMAIN}"
    assert got["payload"]["role"] == "ROLE_USER"  # the A2A message itself
    # bob answers it over AMTP, to the unnamed agent's address.
    answer = {**note(bob, {"address": got["sender"]}, "ok"), "in_reply_to": got["message_id"]}
    reply = await send(api, bob["api_key"], answer)
    assert reply.status_code == 202, reply.text
    claimed = await api.post("/api/inbox/claims", native.token, {})
    amtp = claimed.json()["message"]["payload"]["metadata"]["amtp"]
    assert amtp["in_reply_to"] == got["message_id"]
    acked = await api.client.delete(f"/v1/inbox/{bob['address']}/{got['message_id']}",
                                    headers=bearer(bob["api_key"]))  # fmt: skip
    assert acked.status_code == 200, acked.text


async def test_messages_list_shows_the_callers_with_filters(api: Api) -> None:
    admin = await api.signup()
    alice, bob = await register(api, admin, "alice"), await register(api, admin, "bob")
    carol = await register(api, await api.signup(), "carol")
    ids = []
    for to in (bob, carol, bob):
        r = await send(api, alice["api_key"], note(alice, to, 1))
        ids.append(r.json()["message_id"])
    r = await api.client.get("/v1/messages", headers=bearer(alice["api_key"]))
    listed = r.json()
    assert [m["message_id"] for m in listed["messages"]] == ids[::-1] and listed["total"] == 3
    for_bob = await api.client.get(f"/v1/messages?recipient=bob@{DOMAIN}",
                                   headers=bearer(alice["api_key"]))  # fmt: skip
    assert [m["message_id"] for m in for_bob.json()["messages"]] == [ids[2], ids[0]]
    seen_by_carol = await api.client.get("/v1/messages", headers=bearer(carol["api_key"]))
    assert [m["message_id"] for m in seen_by_carol.json()["messages"]] == [ids[1]]
    acked = await api.client.delete(f"/v1/inbox/{carol['address']}/{ids[1]}",
                                    headers=bearer(carol["api_key"]))  # fmt: skip
    assert acked.status_code == 200
    delivered = await api.client.get("/v1/messages?status=delivered", headers=bearer(admin))
    # The account's: its agents' (alice's three); carol took one.
    assert [m["message_id"] for m in delivered.json()["messages"]] == [ids[1]]
    pending = await api.client.get("/v1/messages?status=pending&limit=1", headers=bearer(admin))
    assert pending.json()["total"] == 2 and len(pending.json()["messages"]) == 1
    hidden = await api.client.get(f"/v1/messages/{ids[0]}", headers=bearer(carol["api_key"]))
    assert hidden.status_code == 404 and error_code(hidden) == "MESSAGE_NOT_FOUND"
    shown = await api.client.get(f"/v1/messages/{ids[1]}", headers=bearer(carol["api_key"]))
    assert shown.json()["sender"] == alice["address"] and shown.json()["payload"] == 1


async def test_admin_routes_discovery_and_capabilities(api: Api) -> None:
    admin = await api.signup()
    first = await api.client.post("/v1/admin/agents", json={"address": "dora"},
                                  headers=bearer(admin))  # fmt: skip
    again = await api.client.post("/v1/admin/agents", json={"address": "dora"},
                                  headers=bearer(admin))  # fmt: skip
    assert first.status_code == again.status_code == 201 and first.json() == again.json()
    taken = await api.client.post("/v1/admin/agents", json={"address": "dora"},
                                  headers={"X-Admin-Key": await api.signup()})  # fmt: skip
    assert taken.status_code == 409 and error_code(taken) == "AGENT_EXISTS"
    for body in ({"address": "x@other.test"}, {"address": "-x"}, {"address": "agt_x"}, {}):
        r = await api.client.post("/v1/admin/agents", json=body, headers=bearer(admin))
        assert r.status_code == 400 and error_code(r) == "AGENT_REGISTRATION_FAILED", r.text
    nokey = await api.client.post("/v1/admin/agents", json={"address": "eve"})
    assert nokey.status_code == 401
    dora = first.json()["agent"]
    as_agent = await api.client.get("/v1/admin/agents", headers={"X-Admin-Key": dora["api_key"]})
    assert as_agent.status_code == 403
    listed = (await api.client.get("/v1/admin/agents", headers={"X-Admin-Key": admin})).json()
    assert listed["count"] == 1 and listed["agents"][dora["address"]]["api_key"] == ""

    directory = (await api.client.get("/v1/discovery/agents")).json()
    assert directory["domain"] == DOMAIN
    assert [a["address"] for a in directory["agents"]] == [dora["address"]]
    one = (await api.client.get(f"/v1/discovery/agents?address=dora@{DOMAIN}")).json()
    assert one["agent_count"] == 1
    none = (await api.client.get("/v1/discovery/agents?address=zed@one.test")).json()
    assert none["agents"] == []
    other = await api.client.get("/v1/discovery/agents/other.test")
    assert other.status_code == 404 and error_code(other) == "DOMAIN_NOT_FOUND"

    caps = (await api.client.get(f"/v1/capabilities/{DOMAIN}")).json()
    assert caps["version"] == "1.0" and caps["gateway"].startswith("http")
    record = caps["txt_record"]
    prefix = f'_amtp.{DOMAIN}. 300 IN TXT "v=amtp1;gateway={caps["gateway"]};auth=apikey;'
    assert record.startswith(f"{prefix}max-size={caps['max_size']};pubkey=ed25519:")
    published = parse_txt([record.split(" IN TXT ")[1]])
    assert published is not None and published.gateway == caps["gateway"]
    assert published.public_key is not None and len(published.public_key) == 32
    unknown = await api.client.get("/v1/capabilities/nowhere.test")
    assert unknown.status_code == 404 and error_code(unknown) == "CAPABILITIES_NOT_FOUND"


async def test_an_unregistered_agent_is_gone_and_its_name_not_reused(api: Api) -> None:
    admin = await api.signup()
    alice, bob = await register(api, admin, "alice"), await register(api, admin, "bob")
    other = await api.client.delete(
        f"/v1/admin/agents/bob@{DOMAIN}", headers={"X-Admin-Key": await api.signup()}
    )
    assert other.status_code == 404 and error_code(other) == "AGENT_NOT_FOUND"
    gone = await api.client.delete(f"/v1/admin/agents/bob@{DOMAIN}", headers=bearer(admin))
    assert gone.status_code == 200 and gone.json()["name"] == "bob", gone.text
    again = await api.client.delete("/v1/admin/agents/bob", headers=bearer(admin))
    assert again.json() == gone.json()
    unknown = await send(api, alice["api_key"], note(alice, bob, 1))
    assert unknown.status_code == 404 and error_code(unknown) == "AGENT_UNKNOWN"
    keyless = await api.client.get(f"/v1/inbox/{bob['address']}", headers=bearer(bob["api_key"]))
    assert keyless.status_code == 401
    reused = await api.client.post(
        "/v1/admin/agents", json={"address": "bob"}, headers={"X-Admin-Key": admin}
    )
    assert reused.status_code == 409 and error_code(reused) == "AGENT_EXISTS"
    listed = (await api.client.get("/v1/admin/agents", headers={"X-Admin-Key": admin})).json()
    assert list(listed["agents"]) == [alice["address"]]


async def test_a_push_agent_gets_signed_pushes(api: Api, receiver: Receiver) -> None:
    admin = await api.signup()
    alice = await register(api, admin, "alice")
    body = {"address": "hook", "delivery_mode": "push", "push_target": receiver.url(),
            "headers": {"Authorization": "Bearer hook-secret"}}  # fmt: skip
    r = await api.client.post("/v1/admin/agents", json=body, headers={"X-Admin-Key": admin})
    assert r.status_code == 201, r.text
    hook = r.json()["agent"]
    assert hook["delivery_mode"] == "push" and "hook-secret" not in r.text
    bad = {**body, "address": "hook2", "push_target": "ftp://files.example/in"}
    refused = await api.client.post("/v1/admin/agents", json=bad, headers={"X-Admin-Key": admin})
    assert refused.status_code == 400 and error_code(refused) == "AGENT_REGISTRATION_FAILED"
    assert (await send(api, alice["api_key"], note(alice, hook, {"x": 1}))).status_code == 202
    (pushed,) = await receiver.wait_for(1)
    assert pushed.headers["authorization"] == "Bearer hook-secret"
    assert "webhook-signature" in pushed.headers
    amtp = json.loads(pushed.body)["message"]["payload"]["metadata"]["amtp"]
    assert amtp["sender"] == alice["address"]
