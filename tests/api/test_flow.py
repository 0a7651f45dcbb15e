"""The README's walk-through through a real Hypercorn: sign up, agents, send, claim, ACK, status."""

from __future__ import annotations

import re

from tests.support.helpers import Api, as_stored, text

ID = re.compile(r"^[a-z]+_[A-Za-z0-9_-]{22}$")
TOKEN = re.compile(r"^[a-z]+_[A-Za-z0-9_-]{43}$")
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


async def test_health_and_ready(api: Api) -> None:
    r = await api.client.get("/health")
    assert (r.status_code, r.json()) == (200, {"status": "ok"})
    r = await api.client.get("/ready")
    assert r.status_code == 200
    assert r.json() == {
        "status": "ok",
        "checks": {"database": "ok", "transport_runtime": "ok", "webhook_dispatcher": "ok"},
    }


async def test_signup_returns_a_free_account_and_key(api: Api) -> None:
    r = await api.client.post("/api/accounts", json={"name": "Dev Network", "plan": "basic"})
    assert r.status_code == 201
    body = r.json()
    assert set(body) == {"id", "name", "plan", "account_api_key"}
    assert body["plan"] == "free"
    assert body["name"] == "Dev Network"
    assert ID.match(body["id"]) and body["id"].startswith("acct_")
    assert body["account_api_key"]["id"].startswith("acctkey_")
    assert TOKEN.match(body["account_api_key"]["token"]) and body["account_api_key"][
        "token"
    ].startswith("ak_")


async def test_register_and_read_agent(api: Api) -> None:
    account = await api.signup()
    r = await api.post(
        "/api/agents", account, {"display_name": "Alpha", "description": "Polling runtime"}
    )
    assert r.status_code == 201
    body = r.json()
    assert set(body) == {
        "id",
        "address",
        "display_name",
        "description",
        "active_agent_key_id",
        "agent_api_key",
    }
    assert body["address"] == "atp://agent/" + body["id"]
    assert body["agent_api_key"]["token"].startswith("agk_")
    assert body["active_agent_key_id"] == body["agent_api_key"]["id"]
    r = await api.get(f"/api/agents/{body['id']}", account)
    assert r.status_code == 200
    card = f"{str(api.client.base_url).rstrip('/')}/a2a/{body['id']}/.well-known/agent-card.json"
    assert r.json() == {
        "id": body["id"], "address": body["address"], "display_name": "Alpha",
        "description": "Polling runtime", "active_agent_key_id": body["active_agent_key_id"],
        # Beside the reference's keys (issue 23): its A2A card, and its liveness.
        "a2a_agent_card_url": card, "last_seen_at": None, "reachable": False,
    }  # fmt: skip


async def test_send_claim_ack_status(api: Api) -> None:
    alpha, beta = await api.pair()
    payload = text("client-hello")
    r = await api.send(alpha, beta, payload)
    assert r.status_code == 201, r.text
    sent = r.json()
    assert set(sent) == {"message", "carrier_status", "ack_status", "terminal_at", "deliveries"}
    message = sent["message"]
    assert set(message) == {
        "id", "from", "to", "trust", "payload", "content_type", "a2a_version", "created_at",
        "expires_at",
    }  # fmt: skip
    assert message["from"] == alpha.address and message["to"] == beta.address
    assert message["trust"] == "trusted" and message["payload"] == payload
    assert message["content_type"] == "application/a2a+json" and message["a2a_version"] == "1.0"
    assert TIMESTAMP.match(message["created_at"]) and TIMESTAMP.match(message["expires_at"])
    assert sent["carrier_status"] == "queued"
    assert (sent["ack_status"], sent["terminal_at"], sent["deliveries"]) == (None, None, [])

    r = await api.claim(beta, 60)
    assert r.status_code == 201
    claim = r.json()
    assert set(claim) == {"id", "leased_until", "message"}
    assert claim["message"] == message
    assert claim["id"].startswith("dlv_")

    status = (await api.status(alpha.token, message["id"])).json()
    assert status["carrier_status"] == "delivered"
    [delivery] = status["deliveries"]
    assert delivery == {
        "id": claim["id"], "mode": "polling", "status": "leased", "claimed_at": None,
        "leased_until": claim["leased_until"], "attempt_count": 0, "max_attempts": None,
        "next_attempt_at": None, "delivered_at": None, "last_error": None, "attempts": [],
    }  # fmt: skip

    reply = {
        "messageId": "ack-1",
        "role": "ROLE_AGENT",
        "contextId": "ctx_1",
        "parts": [{"text": "done"}],
    }
    r = await api.ack(beta, claim["id"], "completed", reply)
    assert r.status_code == 201, r.text
    acked = r.json()
    assert set(acked["ack"]) == {
        "id",
        "message_id",
        "delivery_id",
        "status",
        "payload",
        "created_at",
    }
    assert acked["ack"]["status"] == "completed" and acked["ack"]["payload"] == reply
    assert acked["message_status"]["ack_status"] == "completed"
    assert acked["message_status"]["terminal_at"] is not None

    for token in (alpha.token, beta.token, alpha.account_token):
        r = await api.status(token, message["id"])
        assert r.status_code == 200
        assert as_stored(r.json()) == acked["message_status"]
        assert r.json()["recipient_liveness"]["reachable"] is True  # beta just ACKed

    r = await api.claim(beta)
    assert (r.status_code, r.json()) == (200, {"delivery": None})
