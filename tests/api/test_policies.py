"""Sender policies, trust, and the unknown cross-account sender limit (contract §1.15, §7)."""

from __future__ import annotations

import trio

from tests.support.helpers import Agent, Api


async def policy(api: Api, recipient: Agent, effect: str, **target: str) -> dict[str, object]:
    r = await api.put(
        f"/api/agents/{recipient.id}/sender_policies", recipient.token, {"effect": effect, **target}
    )
    assert r.status_code == 200, r.text
    body: dict[str, object] = r.json()["sender_policy"]
    return body


async def test_policy_shape_and_upsert_keeps_id(api: Api) -> None:
    alpha, beta = await api.pair()
    first = await policy(api, beta, "allow", sender_agent_id=alpha.id)
    assert set(first) == {
        "id", "recipient_agent_id", "sender_agent_id", "sender_account_id", "effect", "updated_at",
    }  # fmt: skip
    assert first["recipient_agent_id"] == beta.id and first["sender_account_id"] is None
    second = await policy(api, beta, "block", sender_agent_id=alpha.id)
    assert second["id"] == first["id"] and second["effect"] == "block"


async def test_cross_account_sender_is_untrusted_until_allowed(api: Api) -> None:
    stranger, recipient = await api.agent(), await api.agent()
    assert (await api.send(stranger, recipient)).json()["message"]["trust"] == "untrusted"
    await policy(api, recipient, "allow", sender_account_id=stranger.account_id)
    assert (await api.send(stranger, recipient)).json()["message"]["trust"] == "trusted"


async def test_blocked_sender_gets_201_rejected_and_recipient_never_sees_it(api: Api) -> None:
    alpha, beta = await api.pair()
    await policy(api, beta, "block", sender_agent_id=alpha.id)
    r = await api.send(alpha, beta)
    assert r.status_code == 201
    body = r.json()
    assert body["carrier_status"] == "rejected" and body["terminal_at"] is not None
    assert body["deliveries"] == [] and body["message"]["trust"] == "untrusted"
    assert (await api.claim(beta)).json() == {"delivery": None}


async def test_agent_block_beats_account_allow(api: Api) -> None:
    sender, recipient = await api.agent(), await api.agent()
    await policy(api, recipient, "allow", sender_account_id=sender.account_id)
    await policy(api, recipient, "block", sender_agent_id=sender.id)
    assert (await api.send(sender, recipient)).json()["carrier_status"] == "rejected"


async def test_policy_targets_must_exist_and_be_exactly_one(api: Api) -> None:
    alpha, beta = await api.pair()
    path = f"/api/agents/{beta.id}/sender_policies"
    cases = [
        ({"effect": "allow"}, 422),
        ({"effect": "trust", "sender_agent_id": alpha.id}, 422),
        ({"effect": "allow", "sender_agent_id": alpha.id, "sender_account_id": "acct_x"}, 422),
        ({"effect": "allow", "sender_agent_id": "agt_missing"}, 404),
        ({"effect": "allow", "sender_account_id": "acct_missing"}, 404),
    ]
    for body, status in cases:
        r = await api.put(path, beta.token, body)
        assert r.status_code == status, (body, r.text)
    r = await api.put(f"/api/agents/{alpha.id}/sender_policies", beta.token, cases[0][0])
    assert r.status_code == 404


async def test_unknown_sender_limit_is_exactly_twenty_per_hour(api: Api) -> None:
    stranger, recipient = await api.agent(), await api.agent()
    statuses: list[int] = []

    async def send() -> None:
        statuses.append((await api.send(stranger, recipient)).status_code)

    async with trio.open_nursery() as nursery:
        for _ in range(21):
            nursery.start_soon(send)
    assert sorted(statuses) == [201] * 20 + [429]
    r = await api.send(stranger, recipient)
    assert r.json() == {
        "error": {
            "code": "unknown_sender_rate_limited",
            "message": "Unknown cross-account sender limit exceeded for this recipient.",
        }
    }
    friend = await api.agent(recipient.account_token, "friend")
    assert (await api.send(friend, recipient)).status_code == 201
