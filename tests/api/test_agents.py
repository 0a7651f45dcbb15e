"""Agents: plan limits, key rotation, webhook endpoint registration (contract §1.5-1.7, §1.14)."""

from __future__ import annotations

import trio

from tests.support.helpers import Api


async def test_free_plan_allows_two_active_agents(api: Api) -> None:
    account = await api.signup()
    await api.agent(account, "one")
    await api.agent(account, "two")
    r = await api.post("/api/agents", account, {})
    assert r.status_code == 422
    assert r.json() == {
        "error": {
            "code": "plan_limit_exceeded",
            "message": "The account plan limit has been exceeded.",
        }
    }


async def test_concurrent_registrations_respect_the_plan_limit(api: Api) -> None:
    account = await api.signup()
    statuses: list[int] = []

    async def register() -> None:
        statuses.append((await api.post("/api/agents", account, {})).status_code)

    async with trio.open_nursery() as nursery:
        for _ in range(3):
            nursery.start_soon(register)
    assert sorted(statuses) == [201, 201, 422]


async def test_rotation_revokes_the_old_key_at_once(api: Api) -> None:
    alpha, _ = await api.pair()
    r = await api.post(f"/api/agents/{alpha.id}/keys", alpha.account_token, {})
    assert r.status_code == 201
    new = r.json()
    assert set(new) == {"id", "token"} and new["token"].startswith("agk_")
    assert (await api.claim(alpha)).status_code == 401
    r = await api.post("/api/inbox/claims", new["token"], {})
    assert r.status_code == 200
    shown = (await api.get(f"/api/agents/{alpha.id}", alpha.account_token)).json()
    assert shown["active_agent_key_id"] == new["id"]


async def test_concurrent_rotations_leave_exactly_one_working_key(api: Api) -> None:
    alpha, _ = await api.pair()
    tokens: list[str] = []

    async def rotate() -> None:
        r = await api.post(f"/api/agents/{alpha.id}/keys", alpha.account_token, {})
        tokens.append(r.json()["token"])

    async with trio.open_nursery() as nursery:
        for _ in range(4):
            nursery.start_soon(rotate)
    working = [t for t in tokens if (await api.post("/api/inbox/claims", t, {})).status_code != 401]
    assert len(working) == 1


async def test_agents_of_other_accounts_are_invisible(api: Api) -> None:
    alpha = await api.agent()
    stranger = await api.signup()
    assert (await api.get(f"/api/agents/{alpha.id}", stranger)).status_code == 404
    r = await api.post(f"/api/agents/{alpha.id}/keys", stranger, {})
    assert r.status_code == 404
    assert (await api.get(f"/api/agents/{alpha.id}", alpha.token)).status_code == 403


async def test_webhook_endpoint_registration_and_secret_rotation(api: Api) -> None:
    alpha = await api.agent()
    path = f"/api/agents/{alpha.id}/webhook_endpoint"
    r = await api.put(path, alpha.token, {"url": "  https://recipient.example/atp/webhook  "})
    assert r.status_code == 200
    endpoint = r.json()["webhook_endpoint"]
    assert endpoint["url"] == "https://recipient.example/atp/webhook"
    assert endpoint["active"] is True
    assert endpoint["endpoint_secret"].startswith("whsec_")
    again = (await api.put(path, alpha.token, {"url": "https://recipient.example/x"})).json()
    assert again["webhook_endpoint"]["endpoint_secret"] != endpoint["endpoint_secret"]


async def test_webhook_endpoint_rejects_private_urls_and_other_agents(api: Api) -> None:
    alpha, beta = await api.pair()
    path = f"/api/agents/{alpha.id}/webhook_endpoint"
    for url in ("http://127.0.0.1/hook", "http://localhost/x", "ftp://example.com", "", None):
        r = await api.put(path, alpha.token, {"url": url})
        assert (r.status_code, r.json()["error"]["code"]) == (422, "invalid_webhook_url"), url
    r = await api.put(path, beta.token, {"url": "https://example.com/hook"})
    assert r.status_code == 404


async def test_a_trusted_send_to_a_webhook_agent_schedules_a_webhook_delivery(api: Api) -> None:
    alpha, beta = await api.pair()
    await api.put(
        f"/api/agents/{beta.id}/webhook_endpoint", beta.token, {"url": "https://example.com/h"}
    )
    sent = (await api.send(alpha, beta)).json()
    [delivery] = sent["deliveries"]
    assert delivery["mode"] == "webhook" and delivery["status"] == "retry_scheduled"
    assert (delivery["attempt_count"], delivery["max_attempts"], delivery["attempts"]) == (0, 3, [])
