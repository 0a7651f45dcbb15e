"""Every client method against a real carrier, the same calls three ways, on both stores.

One scenario drives ``Client`` (blocking), ``AsyncClient`` under Trio and
``AsyncClient`` under asyncio. The carrier serves from this test's Trio loop, so each
client runs in a thread of its own with its own event loop
(``anyio.run(..., backend=...)``); the blocking client's methods are wrapped as
coroutines there, so one scenario text drives all three.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import anyio
import attrs
import pytest
import trio
from hypercorn.config import Config
from hypercorn.trio import serve

from atp.actors import Runtime
from atp.api import create_app
from atp.client import AsyncClient, Client, MessageStatus, verify_webhook
from atp.errors import NotDeadLettered, SessionNotOpen, Unauthorized
from atp.settings import Settings
from tests.support.receivers import Receiver, Respond

KINDS = ["sync", "trio", "asyncio"]
ASGI = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # The receiver listens on loopback; a failed push is a dead letter at once (404).
    return attrs.evolve(settings, webhook_allow_private=True, webhook_timeout=2.0)


def hello(text: str = "hello") -> dict[str, Any]:
    return {"messageId": f"m-{text}", "role": "ROLE_USER", "parts": [{"text": text}]}


class Awaited:
    """The blocking client's methods as coroutines (it blocks its own thread's loop)."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)
        if name == "follow_session":

            async def follow(*args: Any, **kwargs: Any) -> AsyncIterator[Any]:
                for event in method(*args, **kwargs):
                    yield event

            return follow

        async def call(*args: Any, **kwargs: Any) -> Any:
            return method(*args, **kwargs)

        return call


async def drive(kind: str, base_url: str, scenario: Callable[..., Awaitable[Any]]) -> Any:
    """Run ``scenario(client)`` with the ``kind`` of client, in a thread with its own loop."""

    async def main() -> Any:
        if kind == "sync":
            with Client(base_url) as client:
                return await scenario(Awaited(client))
        async with AsyncClient(base_url) as client:
            return await scenario(client)

    backend = "trio" if kind == "trio" else "asyncio"
    return await trio.to_thread.run_sync(lambda: anyio.run(main, backend=backend))


async def settled(atp: Any, message_id: str, token: str, carrier_status: str) -> MessageStatus:
    """The status once the message reads ``carrier_status`` (a push settles on its own)."""
    with anyio.fail_after(10):
        while True:
            status: MessageStatus = await atp.status(message_id, token=token)
            if status.carrier_status == carrier_status:
                return status
            await anyio.sleep(0.02)


async def identities(atp: Any) -> dict[str, Any]:
    """The carrier's probes, an account, agents, and an agent key rotation."""
    assert (await atp.health()).status == "ok"
    readiness = await atp.ready()
    assert readiness.ready and readiness.checks == {
        "database": "ok", "transport_runtime": "ok", "webhook_dispatcher": "ok",
    }  # fmt: skip
    account = await atp.signup("Routes")
    alpha = await atp.create_agent("alpha", "the sender", token=account.api_key)
    beta = await atp.create_agent("beta", token=account.api_key)
    shown = await atp.agent(alpha.id, token=account.api_key)
    assert (shown.address, shown.display_name, shown.description) == (
        alpha.address, "alpha", "the sender",
    )  # fmt: skip
    assert shown.active_agent_key_id == alpha.key_id
    key = await atp.rotate_agent_key(beta.id, token=account.api_key)
    assert key.api_key.startswith("agk_") and key.id != beta.key_id
    assert (await atp.agent(beta.id, token=account.api_key)).active_agent_key_id == key.id
    with pytest.raises(Unauthorized):  # the old key stopped at once
        await atp.claim(token=beta.api_key)
    return {"account": account, "alpha": alpha, "beta": beta, "beta_token": key.api_key}


async def messages(atp: Any, alpha: Any, beta: Any, beta_token: str, account_id: str) -> None:
    """Send, claim, extend, ACK, status; sender policies decide the trust."""
    sent = await atp.send(beta.address, hello(), token=alpha.api_key)
    claim = await atp.claim(lease_seconds=30, token=beta_token)
    assert claim is not None and claim.message.id == sent.message.id
    extended = await atp.extend_lease(claim.delivery_id, 90, token=beta_token)
    assert extended.delivery_id == claim.delivery_id and extended.message == claim.message
    assert extended.leased_until == claim.leased_until + timedelta(seconds=90)
    acked = await atp.ack(claim.delivery_id, "completed", hello("done"), token=beta_token)
    assert acked.ack is not None and acked.ack.status == "completed"
    status = await atp.status(sent.message.id, token=alpha.api_key)
    assert (status.carrier_status, status.ack_status) == ("delivered", "completed")

    policy = atp.set_sender_policy
    block = await policy(beta.id, "block", sender_agent_id=alpha.id, token=beta_token)
    assert (block.effect, block.sender_agent_id, block.sender_account_id) == (
        "block", alpha.id, None,
    )  # fmt: skip
    assert (await atp.send(beta.address, hello("no"), token=alpha.api_key)).carrier_status == (
        "rejected"
    )
    allow = await policy(beta.id, "allow", sender_agent_id=alpha.id, token=beta_token)
    assert allow.id == block.id and allow.effect == "allow"  # the same policy, replaced
    by_account = await policy(beta.id, "allow", sender_account_id=account_id, token=beta_token)
    assert by_account.sender_account_id == account_id and by_account.id != block.id
    assert (await atp.send(beta.address, hello("yes"), token=alpha.api_key)).message.trust == (
        "trusted"
    )
    assert (await atp.claim(token=beta_token)) is not None


async def sessions(atp: Any, alpha: Any, beta: Any, beta_token: str) -> None:
    """Open, answer, turns, a paged transcript, the list, close, and the stream."""
    view = await atp.open_session(beta.address, hello("talk?"), token=alpha.api_key)
    session_id = view.session.id
    await atp.answer_session(session_id, token=beta_token)
    await atp.send_turn(session_id, hello("two"), token=beta_token)
    await atp.send_turn(session_id, hello("three"), token=alpha.api_key)
    first = await atp.session(session_id, limit=2, token=alpha.api_key)
    assert [m.message.session_sequence for m in first.messages] == [1, 2]
    assert first.next_after_sequence == 2
    rest = await atp.session(session_id, after_sequence=2, limit=2, token=beta_token)
    assert [m.message.session_sequence for m in rest.messages] == [3]
    assert rest.next_after_sequence is None
    assert (await atp.session(session_id, token=alpha.api_key)).next_after_sequence is None

    other = (await atp.open_session(beta.address, hello("later"), token=alpha.api_key)).session
    listed = await atp.sessions(token=alpha.api_key)
    assert [s.id for s in listed.sessions] == [session_id, other.id]
    assert listed.next_after is None
    page = await atp.sessions(limit=1, token=beta_token)
    assert [s.id for s in page.sessions] == [session_id] and page.next_after == session_id
    after = await atp.sessions(after=page.next_after, token=beta_token)
    assert [s.id for s in after.sessions] == [other.id]
    pending = await atp.sessions(status="pending", token=alpha.api_key)
    assert [s.id for s in pending.sessions] == [other.id]

    closed = await atp.close_session(session_id, token=beta_token)
    assert closed.session.status == "closed"
    with pytest.raises(SessionNotOpen):
        await atp.send_turn(session_id, hello("four"), token=alpha.api_key)
    assert (await atp.sessions(status="open", token=alpha.api_key)).sessions == ()
    events = [e async for e in atp.follow_session(session_id, token=alpha.api_key)]
    assert [e.status for e in events if e.kind == "status"] == ["open", "closed"]
    assert [e.message.message.session_sequence for e in events if e.message] == [1, 2, 3]


async def webhooks(atp: Any, alpha: Any, url: str) -> dict[str, Any]:
    """An endpoint, signing keys, and dead letters redriven and released.

    gamma, of another account, trusts alpha (only trusted messages are pushed). The
    receiver answers 404, 200, 404 (scripted by the test): two dead letters.
    """
    account = await atp.signup("Receivers")
    gamma = await atp.create_agent("gamma", token=account.api_key)
    await atp.set_sender_policy(gamma.id, "allow", sender_agent_id=alpha.id, token=gamma.api_key)
    endpoint = await atp.set_webhook_endpoint(
        gamma.id, url, authentication=("Bearer", "push-credentials"), token=gamma.api_key
    )
    assert endpoint.url == url and endpoint.active
    assert endpoint.endpoint_secret.startswith("whsec_") and len(endpoint.signing_keys) == 1
    rotated = await atp.rotate_signing_key(gamma.id, 60, token=gamma.api_key)
    assert [k.id for k in rotated.signing_keys][:1] == [endpoint.signing_keys[0].id]
    assert len(rotated.signing_keys) == 2 and rotated.signing_keys[0].retires_at is not None
    read = await atp.signing_keys(gamma.id, token=account.api_key)  # its account may read them
    assert read.signing_keys == rotated.signing_keys

    first = await atp.send(gamma.address, hello("push one"), token=alpha.api_key)
    await settled(atp, first.message.id, gamma.api_key, "delivery_failed")
    page = await atp.dead_letters(token=gamma.api_key)
    assert [d.message_status.message.id for d in page.dead_letters] == [first.message.id]
    assert page.next_after is None and page.dead_letters[0].dead_lettered_at is not None
    redriven = await atp.redrive_dead_letter(first.message.id, token=gamma.api_key)
    assert redriven.carrier_status == "queued" and len(redriven.deliveries) == 2
    await settled(atp, first.message.id, gamma.api_key, "delivered")
    with pytest.raises(NotDeadLettered):
        await atp.release_dead_letter(first.message.id, token=gamma.api_key)

    second = await atp.send(gamma.address, hello("push two"), token=alpha.api_key)
    await settled(atp, second.message.id, gamma.api_key, "delivery_failed")
    assert len((await atp.dead_letters(limit=1, token=gamma.api_key)).dead_letters) == 1
    released = await atp.release_dead_letter(second.message.id, token=gamma.api_key)
    assert released.carrier_status == "queued"
    claim = await atp.claim(token=gamma.api_key)
    assert claim is not None and claim.message.id == second.message.id
    assert (await atp.dead_letters(token=gamma.api_key)).dead_letters == ()
    return {"secret": endpoint.endpoint_secret, "keys": rotated.signing_keys}


async def every_route(atp: Any, receiver_url: str) -> dict[str, Any]:
    known = await identities(atp)
    alpha, beta, beta_token = known["alpha"], known["beta"], known["beta_token"]
    await messages(atp, alpha, beta, beta_token, known["account"].id)
    await sessions(atp, alpha, beta, beta_token)
    return await webhooks(atp, alpha, receiver_url)


@pytest.mark.parametrize("kind", KINDS)
async def test_every_route_through_each_client(
    kind: str, base_url: str, receiver: Receiver
) -> None:
    receiver.script(Respond(404), Respond(200), Respond(404))
    url = receiver.url()
    pushed = await drive(kind, base_url, lambda atp: every_route(atp, url))
    requests = await receiver.wait_for(3)
    assert all(r.headers["authorization"] == "Bearer push-credentials" for r in requests)
    for request in requests:  # what a receiver checks, with the secret or a public key
        verify_webhook(request.headers, request.body, secret=pushed["secret"])
        for key in pushed["keys"]:  # during the overlap both keys sign
            verify_webhook(request.headers, request.body, public_key=key.public_key)


def losing_the_first_answer(app: ASGI, path: str) -> tuple[ASGI, list[str]]:
    """``app``, except that the first request to ``path`` is served but its answer lost:
    the client sees a 503, as after a proxy's timeout, and must retry with its key."""
    lost: list[str] = []

    async def asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != path or lost:
            await app(scope, receive, send)
            return
        keys = [v.decode() for k, v in scope["headers"] if k == b"idempotency-key"]
        lost.extend(keys or ["(none)"])

        async def swallow(message: dict[str, Any]) -> None:
            pass

        await app(scope, receive, swallow)  # the carrier acts; its answer goes nowhere
        body = json.dumps({"error": {"code": "unexpected_error", "message": "lost"}}).encode()
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 503, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return asgi, lost


async def serve_app(app: ASGI, nursery: trio.Nursery) -> str:
    config = Config()
    config.bind = ["127.0.0.1:0"]
    binds: list[str] = await nursery.start(
        lambda task_status: serve(app, config, task_status=task_status)
    )
    return binds[0]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("store", ["sqlite"])  # the client's retry, not the store's
async def test_a_lost_answer_is_retried_with_its_key_and_acts_once(
    kind: str, runtime: Runtime, nursery: trio.Nursery, tmp_path: Path
) -> None:
    app, lost = losing_the_first_answer(create_app(runtime.carrier), "/api/messages")
    base_url = await serve_app(app, nursery)

    async def scenario(atp: Any) -> tuple[str, list[str | None]]:
        account = await atp.signup("Retries")
        alpha = await atp.create_agent("alpha", token=account.api_key)
        beta = await atp.create_agent("beta", token=account.api_key)
        sent = await atp.send(beta.address, hello("once"), token=alpha.api_key)  # retried
        first = await atp.claim(token=beta.api_key)
        second = await atp.claim(token=beta.api_key)
        return sent.message.id, [c and c.message.id for c in (first, second)]

    message_id, claimed = await drive(kind, base_url, scenario)
    assert len(lost) == 1 and lost[0] != "(none)"  # the first answer was lost, and retried
    assert claimed == [message_id, None]  # the carrier acted once
    nursery.cancel_scope.cancel()


def cutting_the_first_stream(app: ASGI, cuts: list[str]) -> ASGI:
    """``app``, except that the first session stream ends after its first event, as a
    dropped connection would: the follower must reopen it where it left off."""

    async def asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope["path"].endswith("/stream") or cuts:
            await app(scope, receive, send)
            return
        cuts.append(scope["path"])
        buffered, ended = b"", False

        async def cut(message: dict[str, Any]) -> None:
            nonlocal buffered, ended
            if ended:
                return
            if message["type"] != "http.response.body":
                await send(message)
                return
            buffered += message.get("body", b"")
            start = buffered.find(b"event:")
            end = buffered.find(b"\n\n", start) if start != -1 else -1
            if end != -1:
                ended = True
                body = buffered[: end + 2]
                await send({"type": "http.response.body", "body": body, "more_body": False})

        await app(scope, receive, cut)

    return asgi


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("store", ["sqlite"])  # the client's resumption, not the store's
async def test_a_cut_stream_is_resumed_where_it_left_off(
    kind: str, runtime: Runtime, nursery: trio.Nursery
) -> None:
    cuts: list[str] = []
    base_url = await serve_app(cutting_the_first_stream(create_app(runtime.carrier), cuts), nursery)

    async def scenario(atp: Any) -> tuple[list[Any], list[Any]]:
        account = await atp.signup("Streams")
        alpha = await atp.create_agent("alpha", token=account.api_key)
        beta = await atp.create_agent("beta", token=account.api_key)
        session_id = (await atp.open_session(beta.address, hello(), token=alpha.api_key)).session.id
        await atp.answer_session(session_id, token=beta.api_key)
        await atp.send_turn(session_id, hello("two"), token=beta.api_key)
        await atp.close_session(session_id, token=alpha.api_key)
        resumed = [e async for e in atp.follow_session(session_id, token=alpha.api_key)]
        whole = [e async for e in atp.follow_session(session_id, token=alpha.api_key)]
        return resumed, whole

    resumed, whole = await drive(kind, base_url, scenario)
    assert len(cuts) == 1  # the first stream was cut after one event, and reopened
    assert [(e.id, e.kind, e.status) for e in resumed] == [(e.id, e.kind, e.status) for e in whole]
    assert [e.kind for e in whole] == ["message", "status", "message", "status"]
    nursery.cancel_scope.cancel()
