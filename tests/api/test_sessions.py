"""Sessions through the HTTP API (contract §1.10-1.13, §6), on both stores."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import trio

from atp.actors import DueSweeper, Runtime
from tests.api.test_expiry import shift
from tests.support.helpers import Agent, Api, text


async def open_session(api: Api, initiator: Agent, recipient: Agent) -> dict[str, Any]:
    r = await api.post(
        "/api/sessions", initiator.token, {"to": recipient.address, "payload": text("hello")}
    )
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


async def turn(api: Api, sender: Agent, session_id: str, words: str = "turn") -> httpx.Response:
    return await api.post(
        f"/api/sessions/{session_id}/messages", sender.token, {"payload": text(words)}
    )


async def answer(api: Api, agent: Agent, session_id: str, verb: str) -> httpx.Response:
    return await api.post(f"/api/sessions/{session_id}/{verb}", agent.token)


async def opened(api: Api) -> tuple[Agent, Agent, str]:
    alpha, beta = await api.pair()
    session_id = (await open_session(api, alpha, beta))["session"]["id"]
    assert (await answer(api, beta, session_id, "accept")).status_code == 201
    return alpha, beta, session_id


def code(r: httpx.Response) -> tuple[int, str]:
    return r.status_code, r.json()["error"]["code"]


async def test_open_accept_and_turns_both_ways(api: Api) -> None:
    alpha, beta = await api.pair()
    body = await open_session(api, alpha, beta)
    session = body["session"]
    assert session["status"] == "pending" and session["last_sequence"] == 1
    assert (session["initiator"], session["recipient"]) == (alpha.address, beta.address)
    message = body["message_status"]["message"]
    assert (message["session_id"], message["session_sequence"]) == (session["id"], 1)
    assert session["opening_message_id"] == message["id"]

    r = await answer(api, beta, session["id"], "accept")
    assert r.status_code == 201, r.text
    assert r.json()["session"]["status"] == "open" and r.json()["session"]["opened_at"]
    assert r.json()["ack"]["status"] == "accepted"

    replies = [await turn(api, beta, session["id"]), await turn(api, alpha, session["id"])]
    assert [r.json()["message_status"]["message"]["session_sequence"] for r in replies] == [2, 3]
    assert replies[0].json()["message_status"]["message"]["to"] == alpha.address
    assert replies[1].json()["session"]["last_sequence"] == 3

    shown = (await api.get(f"/api/sessions/{session['id']}", alpha.token)).json()
    assert shown["session"]["last_sequence"] == 3
    assert [m["message"]["session_sequence"] for m in shown["messages"]] == [1, 2, 3]
    claim = (await api.claim(alpha)).json()  # beta's reply waits in alpha's inbox
    assert claim["message"]["session_sequence"] == 2


async def test_who_may_do_what(api: Api) -> None:
    alpha, beta = await api.pair()
    outsider = await api.agent(name="outsider")
    session_id = (await open_session(api, alpha, beta))["session"]["id"]
    assert (await answer(api, alpha, session_id, "accept")).status_code == 404  # initiator
    assert (await api.get(f"/api/sessions/{session_id}", outsider.token)).status_code == 404
    assert code(await turn(api, alpha, session_id)) == (409, "session_not_open")  # pending
    assert (await turn(api, outsider, session_id)).status_code == 404
    self_session = await api.post(
        "/api/sessions", alpha.token, {"to": alpha.address, "payload": text("me")}
    )
    assert code(self_session) == (422, "invalid_session_recipient")
    assert (await api.get("/api/sessions/ses_nope", alpha.token)).status_code == 404


async def test_a_rejected_session_takes_no_turns_or_answers(api: Api) -> None:
    alpha, beta = await api.pair()
    session_id = (await open_session(api, alpha, beta))["session"]["id"]
    r = await answer(api, beta, session_id, "reject")
    assert r.status_code == 201 and r.json()["session"]["status"] == "rejected"
    assert code(await turn(api, alpha, session_id)) == (409, "session_not_open")
    assert code(await answer(api, beta, session_id, "accept")) == (409, "invalid_ack_transition")


async def test_a_blocked_initiator_is_rejected_at_once(api: Api) -> None:
    alpha, beta = await api.pair()
    policy = {"effect": "block", "sender_agent_id": alpha.id}
    await api.put(f"/api/agents/{beta.id}/sender_policies", beta.token, policy)
    body = await open_session(api, alpha, beta)
    assert body["session"]["status"] == "rejected" and body["session"]["terminal_at"]
    assert body["message_status"]["carrier_status"] == "rejected"
    assert body["message_status"]["deliveries"] == []


async def test_an_ack_of_the_opening_delivery_answers_the_session(api: Api) -> None:
    alpha, beta = await api.pair()
    session_id = (await open_session(api, alpha, beta))["session"]["id"]
    delivery = (await api.claim(beta)).json()["id"]
    assert code(await api.ack(beta, delivery, "completed")) == (409, "invalid_ack_transition")
    assert (await api.ack(beta, delivery, "accepted")).status_code == 201
    shown = (await api.get(f"/api/sessions/{session_id}", alpha.token)).json()
    assert shown["session"]["status"] == "open"
    assert code(await api.ack(beta, delivery, "completed")) == (409, "invalid_ack_transition")
    # A second session fails through an ACK "failed".
    other = (await open_session(api, alpha, beta))["session"]["id"]
    delivery = (await api.claim(beta)).json()["id"]
    assert (await api.ack(beta, delivery, "failed")).status_code == 201
    assert (await api.get(f"/api/sessions/{other}", beta.token)).json()["session"][
        "status"
    ] == "failed"


async def test_concurrent_turns_get_unique_contiguous_sequences(api: Api) -> None:
    alpha, beta, session_id = await opened(api)
    sequences: list[int] = []

    async def send(agent: Agent) -> None:
        r = await turn(api, agent, session_id)
        assert r.status_code == 201, r.text
        sequences.append(r.json()["message_status"]["message"]["session_sequence"])

    async with trio.open_nursery() as nursery:
        for i in range(12):
            nursery.start_soon(send, alpha if i % 2 else beta)
    assert sorted(sequences) == list(range(2, 14))
    shown = (await api.get(f"/api/sessions/{session_id}", beta.token)).json()
    assert [m["message"]["session_sequence"] for m in shown["messages"]] == list(range(1, 14))


async def test_a_policy_rejected_turn_still_takes_its_number(api: Api) -> None:
    alpha, beta, session_id = await opened(api)
    policy = {"effect": "block", "sender_agent_id": alpha.id}
    await api.put(f"/api/agents/{beta.id}/sender_policies", beta.token, policy)
    blocked = await turn(api, alpha, session_id)
    assert blocked.status_code == 201
    assert blocked.json()["message_status"]["carrier_status"] == "rejected"
    assert blocked.json()["session"]["status"] == "open"
    after = await turn(api, beta, session_id)
    assert after.json()["message_status"]["message"]["session_sequence"] == 3


async def test_close_ends_the_session_for_both(api: Api) -> None:
    alpha, beta, session_id = await opened(api)
    r = await answer(api, alpha, session_id, "close")
    assert r.status_code == 200 and r.json()["session"]["status"] == "closed"
    assert code(await turn(api, beta, session_id)) == (409, "session_not_open")
    assert code(await answer(api, beta, session_id, "close")) == (409, "session_not_open")


async def test_sessions_are_listed_and_transcripts_paged(api: Api) -> None:
    alpha, beta, first = await opened(api)
    second = (await open_session(api, alpha, beta))["session"]["id"]
    for _ in range(4):
        await turn(api, alpha, first)
    listed = (await api.get("/api/sessions", beta.token)).json()
    assert [s["id"] for s in listed["sessions"]] == [first, second]
    pending = (await api.get("/api/sessions?status=pending", beta.token)).json()
    assert [s["id"] for s in pending["sessions"]] == [second]
    page = (await api.get("/api/sessions?limit=1", beta.token)).json()
    assert [s["id"] for s in page["sessions"]] == [first] and page["next_after"] == first
    rest = (await api.get(f"/api/sessions?limit=1&after={first}", beta.token)).json()
    assert [s["id"] for s in rest["sessions"]] == [second] and rest["next_after"] is None

    path = f"/api/sessions/{first}"
    part = (await api.get(f"{path}?after_sequence=1&limit=2", beta.token)).json()
    assert [m["message"]["session_sequence"] for m in part["messages"]] == [2, 3]
    assert part["next_after_sequence"] == 3
    tail = (await api.get(f"{path}?after_sequence=3&limit=2", beta.token)).json()
    assert [m["message"]["session_sequence"] for m in tail["messages"]] == [4, 5]
    assert tail["next_after_sequence"] is None
    assert (await api.get(f"{path}?limit=0", beta.token)).status_code == 422
    assert (await api.get("/api/sessions?status=nope", beta.token)).status_code == 422


async def test_polling_hands_out_a_session_in_order(api: Api) -> None:
    alpha, beta, session_id = await opened(api)
    for words in ("two", "three"):
        await turn(api, alpha, session_id, words)
    # The contract's polling cases (§6.4); oldest-first hands these out in order anyway,
    # so the cases that only the ordering rule decides are in test_webhooks.py.
    # Seq 2 handed out with a lease that ends at once: seq 3 waits for seq 2.
    first = (await api.claim(beta, 0)).json()
    assert first["message"]["session_sequence"] == 2
    again = (await api.claim(beta, 60)).json()
    assert again["message"]["session_sequence"] == 2  # re-claimed, not overtaken
    third = (await api.claim(beta, 60)).json()
    assert third["message"]["session_sequence"] == 3  # seq 2's lease is active: in order
    assert (await api.claim(beta)).json() == {"delivery": None}


async def test_an_acked_earlier_turn_unblocks_the_next(api: Api) -> None:
    alpha, beta, session_id = await opened(api)
    for words in ("two", "three"):
        await turn(api, alpha, session_id, words)
    first = (await api.claim(beta, 0)).json()
    # Lapsed but ACKed after accepted: an ACKed message no longer blocks.
    assert code(await api.ack(beta, first["id"], "completed")) == (409, "lease_expired")
    second = (await api.claim(beta, 60)).json()
    assert second["message"]["session_sequence"] == 2
    assert (await api.ack(beta, second["id"], "completed")).status_code == 201
    third = (await api.claim(beta, 60)).json()
    assert third["message"]["session_sequence"] == 3


async def test_an_expired_opening_fails_the_session(api: Api, runtime: Runtime) -> None:
    alpha, beta = await api.pair()
    session_id = (await open_session(api, alpha, beta))["session"]["id"]
    swept = (await open_session(api, alpha, beta))["session"]["id"]
    shift(runtime, timedelta(days=7, seconds=1))
    assert code(await answer(api, beta, session_id, "accept")) == (409, "message_expired")
    shown = (await api.get(f"/api/sessions/{session_id}", alpha.token)).json()
    assert shown["session"]["status"] == "failed"
    assert shown["messages"][0]["carrier_status"] == "expired"
    await DueSweeper(runtime.context, runtime.supervisor).sweep()
    shown = (await api.get(f"/api/sessions/{swept}", alpha.token)).json()
    assert shown["session"]["status"] == "failed"


async def test_a_rejected_earlier_turn_does_not_hold_back_the_next(api: Api) -> None:
    alpha, beta, session_id = await opened(api)
    path = f"/api/agents/{beta.id}/sender_policies"
    await api.put(path, beta.token, {"effect": "block", "sender_agent_id": alpha.id})
    await turn(api, alpha, session_id, "blocked")
    await api.put(path, beta.token, {"effect": "allow", "sender_agent_id": alpha.id})
    await turn(api, alpha, session_id, "allowed")
    claim = (await api.claim(beta)).json()
    assert claim["message"]["session_sequence"] == 3


async def test_unknown_senders_are_limited_in_sessions_too(api: Api) -> None:
    stranger = await api.agent(name="stranger")
    recipient = await api.agent(name="recipient")  # another account: unknown to it
    for _ in range(20):
        body = await open_session(api, stranger, recipient)
        assert body["message_status"]["message"]["trust"] == "untrusted"
    r = await api.post(
        "/api/sessions", stranger.token, {"to": recipient.address, "payload": text("more")}
    )
    assert code(r) == (429, "unknown_sender_rate_limited")


async def test_a_batch_claim_hands_out_a_session_in_order(api: Api) -> None:
    alpha, beta, session_id = await opened(api)
    for words in ("two", "three", "four"):
        await turn(api, alpha, session_id, words)
    lapsed = (await api.claim(beta, 0)).json()  # seq 2 handed out, its lease over at once
    assert lapsed["message"]["session_sequence"] == 2
    r = await api.post("/api/inbox/claims", beta.token, {"max": 10})
    claims = r.json()["deliveries"]
    # Seq 2 is claimed again first; then seq 3 and 4, each once the one before is leased.
    assert [c["message"]["session_sequence"] for c in claims] == [2, 3, 4]
