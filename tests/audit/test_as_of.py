"""``as_of``: a message, a session and an agent as they were, in today's shape."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.test_sessions import answer, open_session, turn
from tests.audit.test_events import page_all
from tests.support.helpers import Agent, Api, as_stored, text


@pytest.fixture(params=["inline", "process"])
def follower(request: pytest.FixtureRequest) -> str:
    """The log written in the server's process and in its own."""
    mode: str = request.param
    return mode


async def last_index(api: Api, token: str) -> int:
    """The newest record the caller sees: "now", as an audit index."""
    return int((await page_all(api, token))[-1]["index"])


async def get(api: Api, path: str, token: str, **params: Any) -> Any:
    r = await api.client.get(path, params=params, headers={"authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    return r.json()


async def test_a_message_as_it_was_after_each_step(api: Api) -> None:
    alpha, beta = await api.pair()
    sent = await api.send(alpha, beta, text("m-1", "then"))
    message_id = sent.json()["message"]["id"]
    path = f"/api/messages/{message_id}"
    steps = [(await last_index(api, alpha.account_token), await get(api, path, alpha.token))]
    claim = (await api.claim(beta)).json()
    steps.append((await last_index(api, alpha.account_token), await get(api, path, alpha.token)))
    assert (await api.ack(beta, claim["id"], "completed", text("r", "done"))).status_code == 201
    steps.append((await last_index(api, alpha.account_token), await get(api, path, alpha.token)))
    assert [doc["carrier_status"] for _, doc in steps] == ["queued", "delivered", "delivered"]
    for index, then in steps:
        assert await get(api, path, alpha.token, as_of=str(index)) == as_stored(then)
        assert await get(api, path, beta.token, as_of=str(index)) == await get(
            api, path, beta.token, as_of=str(index)
        )
    # A time: the records' own clock; before the send there was no message.
    sent_record = (await page_all(api, alpha.account_token, type="message.sent"))[-1]["record"]
    at = sent_record["at"]
    assert (await get(api, path, alpha.token, as_of=at))["carrier_status"] == "queued"
    r = await api.client.get(
        path, params={"as_of": "2000-01-01T00:00:00Z"},
        headers={"authorization": f"Bearer {alpha.token}"},
    )  # fmt: skip
    assert r.status_code == 404


async def test_as_of_sees_only_what_the_caller_sees_today(api: Api) -> None:
    alpha, beta = await api.pair()
    outsider = await api.agent()
    message_id = (await api.send(alpha, beta)).json()["message"]["id"]
    index = await last_index(api, alpha.account_token)
    for token, status in ((outsider.token, 404), (outsider.account_token, 404)):
        r = await api.client.get(
            f"/api/messages/{message_id}", params={"as_of": str(index)},
            headers={"authorization": f"Bearer {token}"},
        )  # fmt: skip
        assert r.status_code == status


async def test_bad_as_of_values_are_refused(api: Api) -> None:
    alpha, beta = await api.pair()
    message_id = (await api.send(alpha, beta)).json()["message"]["id"]
    for value, status in (("yesterday", 422), ("2026-12-06T10:00:00", 422), ("99999999", 404)):
        r = await api.client.get(
            f"/api/messages/{message_id}", params={"as_of": value},
            headers={"authorization": f"Bearer {alpha.token}"},
        )  # fmt: skip
        assert r.status_code == status, (value, r.text)


async def test_a_session_and_an_agent_as_they_were(api: Api) -> None:
    alpha, beta = await api.pair()
    session_id = (await open_session(api, alpha, beta))["session"]["id"]
    path = f"/api/sessions/{session_id}"
    pending_at = await last_index(api, alpha.account_token)
    pending = await get(api, path, alpha.token)
    assert (await answer(api, beta, session_id, "accept")).status_code == 201
    assert (await turn(api, alpha, session_id, "second")).status_code == 201
    now = await get(api, path, alpha.token)
    assert await get(api, path, alpha.token, as_of=str(pending_at)) == pending
    assert now["session"]["status"] == "open" and len(now["messages"]) == 2
    assert await get(api, path, alpha.token, as_of=str(await last_index(api, alpha.token))) == now

    agent: Agent = await api.agent(name="gamma")
    before = await last_index(api, agent.account_token)
    shown = await get(api, f"/api/agents/{agent.id}", agent.account_token)
    rotated = await api.post(f"/api/agents/{agent.id}/keys", agent.account_token, {})
    assert rotated.status_code == 201
    then = await get(api, f"/api/agents/{agent.id}", agent.account_token, as_of=str(before))
    assert then == as_stored(shown)
    assert then != await get(api, f"/api/agents/{agent.id}", agent.account_token)
