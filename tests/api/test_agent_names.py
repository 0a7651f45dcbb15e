"""Agent names: ``name@ATP_DOMAIN`` beside ``atp://agent/<id>``, unique in the carrier,
wherever a recipient is named."""

from __future__ import annotations

from typing import Any

import attrs
import pytest
import trio

from atp.settings import Settings
from tests.support.helpers import Agent, Api, text


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return attrs.evolve(settings, domain="one.test")


async def named(api: Api, name: Any, account_token: str | None = None) -> Any:
    account_token = account_token or await api.signup()
    return await api.post("/api/agents", account_token, {"display_name": "x", "name": name})


async def test_a_named_agent_is_reachable_at_its_address(api: Api) -> None:
    account = await api.signup()
    r = await named(api, "Bob.Builder", account)
    assert r.status_code == 201, r.text
    bob = r.json()
    assert bob["name"] == "bob.builder"  # kept in lower case
    assert bob["address"] == f"atp://agent/{bob['id']}"  # the contract's address stays
    shown = (await api.get(f"/api/agents/{bob['id']}", account)).json()
    assert shown["amtp_address"] == "bob.builder@one.test"
    alice = await api.agent(account, "alice")
    for to in ("bob.builder@one.test", "BOB.builder@One.Test"):
        sent = await api.post("/api/messages", alice.token, {"to": to, "payload": text()})
        assert sent.status_code == 201, sent.text
        assert sent.json()["message"]["to"] == bob["address"]
    claimed = await api.post("/api/inbox/claims", bob["agent_api_key"]["token"], {})
    assert claimed.json()["message"]["from"] == alice.address
    opened = await api.post(
        "/api/sessions", alice.token, {"to": "bob.builder@one.test", "payload": text()}
    )
    assert opened.status_code == 201, opened.text


async def test_a_name_is_held_by_one_agent_in_the_carrier(api: Api) -> None:
    assert (await named(api, "carol")).status_code == 201
    for account in (None, None):  # another account, and another again
        taken = await named(api, "carol", account)
        assert taken.status_code == 409, taken.text
        assert taken.json()["error"]["code"] == "name_taken"


async def test_concurrent_claims_of_one_name_give_it_to_one_agent(api: Api) -> None:
    accounts = [await api.signup() for _ in range(6)]
    answers: list[int] = []

    async def register(account: str) -> None:
        answers.append((await named(api, "dave", account)).status_code)

    async with trio.open_nursery() as nursery:
        for account in accounts:
            nursery.start_soon(register, account)
    assert sorted(answers) == [201] + [409] * 5


async def test_bad_names_and_other_addresses_are_refused(api: Api) -> None:
    for bad in ("", "-x", "x-", "a b", "ü", "a" * 65, 7, "a@b"):
        r = await named(api, bad)
        assert r.status_code in (400, 422), (bad, r.text)
    sender: Agent = await api.agent()
    for to in ("nobody@one.test", "@one.test", "x@"):
        r = await api.post("/api/messages", sender.token, {"to": to, "payload": text()})
        assert r.json()["error"]["code"] == "recipient_not_found", (to, r.text)
    # Another domain's address is relayed there (tests/federation): accepted, not refused.
    r = await api.post("/api/messages", sender.token, {"to": "carol@two.test", "payload": text()})
    assert r.status_code == 202 and r.json()["recipients"][0]["address"] == "carol@two.test"


async def test_a_failed_registration_leaves_a_claim_that_ends(api: Api) -> None:
    """The free plan holds two agents: a third, named, is refused after its name was
    claimed; the name is not anyone's address, and is free again once the claim is old."""
    account = await api.signup()
    await api.agent(account, "one")
    await api.agent(account, "two")
    body = {"name": "erin"}
    for _ in range(2):  # retried with its key: its own claim is no obstacle
        refused = await api.post("/api/agents", account, body, key="erin-1")
        assert refused.json()["error"]["code"] == "plan_limit_exceeded", refused.text
    sender = await api.agent()
    r = await api.post("/api/messages", sender.token, {"to": "erin@one.test", "payload": text()})
    assert r.json()["error"]["code"] == "recipient_not_found"
    assert (await named(api, "erin")).status_code == 409  # claimed a moment ago
