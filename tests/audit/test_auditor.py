"""Auditor keys: read the account's audit trail and nothing else; every payload they
read is itself recorded in the ledger."""

from __future__ import annotations

import uuid

from tests.audit.test_events import cast, page_all
from tests.support.helpers import Api


async def auditor_of(api: Api, account_token: str) -> dict[str, str]:
    r = await api.post("/api/auditor_keys", account_token, {})
    assert r.status_code == 201, r.text
    key: dict[str, str] = r.json()
    assert key["role"] == "auditor" and key["id"].startswith("audkey_")
    assert key["token"].startswith("aud_")
    return key


async def test_an_auditor_reads_the_account_trail_and_its_reads_are_recorded(api: Api) -> None:
    world = await cast(api)
    a = world["accounts"][0]
    message = world["message"]
    key = await auditor_of(api, a)
    token = key["token"]
    seen = await page_all(api, token)
    assert [e["index"] for e in seen] == [e["index"] for e in await page_all(api, a)][: len(seen)]
    assert any(e["record"]["aggregate"]["id"] == message for e in seen)
    r = await api.get(f"/api/messages/{message}/history", token)
    assert r.status_code == 200, r.text
    r = await api.get(f"/api/messages/{message}", token)
    assert r.status_code == 200, r.text
    assert r.json()["message"]["payload"]["parts"][0]["text"] == "for beta only"
    reads = await page_all(api, a, type="account.payload_read")
    assert [(e["record"]["data"], e["record"]["actor"]) for e in reads] == [
        ({"key_id": key["id"], "message_id": message}, api.account_ids[a])
    ]


async def test_an_auditor_may_do_nothing_else(api: Api) -> None:
    world = await cast(api)
    a = world["accounts"][0]
    alpha, beta, _, delta = world["agents"]
    token = (await auditor_of(api, a))["token"]
    refused = [
        await api.post("/api/messages", token, {"to": beta.address, "payload": {}}),
        await api.post("/api/inbox/claims", token, {}),
        await api.post("/api/agents", token, {"display_name": "x"}),
        await api.post("/api/auditor_keys", token, {}),
        await api.get(f"/api/agents/{alpha.id}", token),
        await api.put(f"/api/agents/{alpha.id}/webhook_endpoint", token, {"url": "https://x.io"}),
        await api.get("/api/sessions", token),
        await api.get("/api/dead_letters", token),
    ]
    for r in refused:
        assert r.status_code == 403, (r.request.url, r.text)
    # Another account's message is not there for it.
    other = await api.send(delta, delta)
    assert other.status_code == 201
    r = await api.get(f"/api/messages/{other.json()['message']['id']}", token)
    assert r.status_code == 404


async def test_issuing_needs_an_account_key_and_an_idempotency_key(api: Api) -> None:
    world = await cast(api)
    a = world["accounts"][0]
    alpha = world["agents"][0]
    assert (await api.post("/api/auditor_keys", alpha.token, {})).status_code == 403
    r = await api.client.post("/api/auditor_keys", headers={"authorization": f"Bearer {a}"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "idempotency_key_required"
    key = str(uuid.uuid4())
    first = await api.post("/api/auditor_keys", a, {}, key)
    again = await api.post("/api/auditor_keys", a, {}, key)
    assert first.json() == again.json()
