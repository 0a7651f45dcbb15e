"""The Python client against a real carrier: the whole flow in a few lines, both ways."""

from __future__ import annotations

from contextlib import aclosing
from typing import Any

import pytest
import trio

from atp.client import AsyncClient, Client, Message, calls
from atp.errors import RecipientNotFound, TerminalAckStatus


def hello(text: str = "hello") -> dict[str, Any]:
    return {"messageId": f"m-{text}", "role": "ROLE_USER", "parts": [{"text": text}]}


def sync_flow(base_url: str) -> list[Any]:
    """What the README shows, with the blocking client (run in a thread: the carrier
    serves from this test's own Trio loop)."""
    with Client(base_url) as atp:
        account = atp.signup("Dev Network")
        alpha = atp.create_agent("alpha", token=account.api_key)
        beta = atp.create_agent("beta", token=account.api_key)
        sent = atp.send(beta.address, hello(), token=alpha.api_key)
        claim = atp.claim(wait_seconds=5, token=beta.api_key)
        assert claim is not None
        atp.ack(claim.delivery_id, "completed", token=beta.api_key)
        status = atp.status(sent.message.id, token=alpha.api_key)

        session = atp.open_session(beta.address, hello("shall we"), token=alpha.api_key)
        atp.answer_session(session.session.id, token=beta.api_key)
        turn = atp.send_turn(session.session.id, hello("yes"), token=beta.api_key)
        transcript = atp.session(session.session.id, token=alpha.api_key)

        with pytest.raises(RecipientNotFound):
            atp.send("atp://agent/agt_nobody", hello(), token=alpha.api_key)
        with pytest.raises(TerminalAckStatus):
            atp.ack(claim.delivery_id, "failed", token=beta.api_key)
        # A retried call sends its own key again: answered once, from the record.
        call = calls.send(alpha.api_key, beta.address, hello("once"))
        first, again = atp.call(call), atp.call(call)
        return [status, claim.message, turn, transcript, first, again]


async def test_the_blocking_client_runs_the_whole_flow(base_url: str) -> None:
    status, message, turn, transcript, first, again = await trio.to_thread.run_sync(
        sync_flow, base_url
    )
    assert (status.carrier_status, status.ack_status) == ("delivered", "completed")
    assert isinstance(message, Message) and message.payload["parts"][0]["text"] == "hello"
    assert turn.message_status.message.session_sequence == 2
    assert transcript.session.status == "open" and transcript.session.last_sequence == 2
    assert [m.message.session_sequence for m in transcript.messages] == [1, 2]
    assert first.message.id == again.message.id


async def test_the_async_client_runs_under_trio(base_url: str) -> None:
    async with AsyncClient(base_url) as atp:
        account = await atp.signup("Async Network")
        atp.token = account.api_key
        alpha, beta = await atp.create_agent("alpha"), await atp.create_agent("beta")
        await atp.send(beta.address, hello(), token=alpha.api_key)
        claim = await atp.claim(token=beta.api_key)
        assert claim is not None and claim.message.sender == alpha.address
        acked = await atp.ack(claim.delivery_id, "completed", token=beta.api_key)
        assert acked.ack_status == "completed"
        assert await atp.claim(token=beta.api_key) is None
        with pytest.raises(ValueError, match="no API key"):
            await AsyncClient(base_url).claim()

        view = await atp.open_session(beta.address, hello("talk?"), token=alpha.api_key)
        session_id = view.session.id
        await atp.answer_session(session_id, token=beta.api_key)
        await atp.send_turn(session_id, hello("yes"), token=beta.api_key)
        await atp.call(calls.close_session(alpha.api_key, session_id))
        events = [event async for event in atp.follow_session(session_id, token=alpha.api_key)]
        assert [(e.kind, e.status) for e in events] == [
            ("message", None), ("status", "open"), ("message", None), ("status", "closed"),
        ]  # fmt: skip
        assert [e.message.message.session_sequence for e in events if e.message] == [1, 2]
        resumed = atp.follow_session(session_id, after=events[1].id, token=beta.api_key)
        assert [e.id async for e in resumed] == [e.id for e in events[2:]]


def test_secrets_stay_out_of_reprs() -> None:
    created = calls.signup("x").read(
        {"id": "acct_1", "name": "x", "plan": "free",
         "account_api_key": {"id": "acctkey_1", "token": "ak_secret"}}
    )  # fmt: skip
    assert "ak_secret" not in repr(created)
    assert "agk_secret" not in repr(calls.claim("agk_secret"))


async def test_the_async_client_sends_claims_and_acks_in_batches(base_url: str) -> None:
    async with AsyncClient(base_url) as atp:
        account = await atp.signup("Batch Network")
        alpha = await atp.create_agent("alpha", token=account.api_key)
        beta = await atp.create_agent("beta", token=account.api_key)
        items = [{"to": beta.address, "payload": hello(f"n{i}")} for i in range(5)]
        sent = await atp.send_batch(items, token=alpha.api_key)
        assert [result.status for result in sent] == [201] * 5
        claims = await atp.claim_batch(3, token=beta.api_key)
        assert [c.message.payload["parts"][0]["text"] for c in claims] == ["n0", "n1", "n2"]
        acks = [{"delivery_id": c.delivery_id, "status": "completed"} for c in claims]
        assert [r.status for r in await atp.ack_batch(acks, token=beta.api_key)] == [201] * 3
        rest = await atp.claim_batch(10, token=beta.api_key)
        assert [c.message.payload["parts"][0]["text"] for c in rest] == ["n3", "n4"]
        assert await atp.claim_batch(10, token=beta.api_key) == ()


async def test_the_async_client_follows_the_inbox_stream(base_url: str) -> None:
    async with AsyncClient(base_url) as atp:
        account = await atp.signup("Stream Network")
        alpha = await atp.create_agent("alpha", token=account.api_key)
        beta = await atp.create_agent("beta", token=account.api_key)
        for word in ("one", "two", "three"):
            await atp.send(beta.address, hello(word), token=alpha.api_key)
        seen = []
        with trio.fail_after(10):
            async with aclosing(atp.stream_inbox(credit=2, token=beta.api_key)) as claims:
                async for claim in claims:
                    seen.append(claim.message.payload["parts"][0]["text"])
                    await atp.ack(claim.delivery_id, "completed", token=beta.api_key)
                    if len(seen) == 3:
                        break
        assert seen == ["one", "two", "three"]
