"""Two carriers of different domains federate over AMTP: a message reaches local and
remote recipients once, one signed request per remote domain; unsigned, wrongly signed
and relaying requests are refused; a gateway that cannot be reached is retried, then
reported to the sender."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from atp.client import AmtpSent, AsyncClient, MessageStatus
from tests.federation.conftest import Gateway, Open
from tests.support.a2a import until


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def inbox(gateway: Gateway, agent: dict[str, Any]) -> list[dict[str, Any]]:
    r = await gateway.client.get(f"/v1/inbox/{agent['address']}", headers=bearer(agent["api_key"]))
    assert r.status_code == 200, r.text
    messages: list[dict[str, Any]] = r.json()["messages"]
    return messages


async def status(gateway: Gateway, agent: dict[str, Any], message_id: str) -> dict[str, Any]:
    r = await gateway.client.get(
        f"/v1/messages/{message_id}/status", headers=bearer(agent["api_key"])
    )
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def test_a_message_reaches_local_and_remote_recipients_once(gateways: Open) -> None:
    async with gateways("one.test") as one, gateways("two.test") as two:
        a, d = await one.register("a"), await one.register("d")
        b, c = await two.register("b"), await two.register("c")
        caps = (await one.client.get("/v1/capabilities/two.test")).json()
        assert caps["gateway"] == two.url and caps["signed"] is True
        assert caps["sender_account_id"].startswith("acct_")
        message = {
            "sender": a["address"],
            "recipients": [b["address"], c["address"], d["address"]],
            "subject": "Quarterly numbers",
            "payload": {"q": 3},
        }
        r = await one.client.post("/v1/messages", json=message, headers=bearer(a["api_key"]))
        assert r.status_code == 202, r.text
        message_id = r.json()["message_id"]
        assert {x["status"] for x in r.json()["recipients"]} == {"queued"}

        async def relayed() -> bool:
            return (await status(one, a, message_id))["status"] == "delivering"

        await until(relayed)
        shown = {x["address"]: x for x in (await status(one, a, message_id))["recipients"]}
        for remote in (b, c):
            assert shown[remote["address"]]["status"] == "delivered"
            assert shown[remote["address"]]["attempts"] == 1  # one request for both
        assert shown[d["address"]]["status"] == "queued"  # local, not yet claimed

        for gateway, agent in ((two, b), (two, c), (one, d)):
            (got,) = await inbox(gateway, agent)
            assert got["message_id"] == message_id and got["payload"] == {"q": 3}
            assert got["sender"] == a["address"] and got["subject"] == "Quarterly numbers"
            assert "sender_authenticated" not in got  # signed by one.test's gateway
        # two.test keeps its own record of it: both of its recipients, one message.
        at_two = await status(two, b, message_id)
        assert sorted(x["address"] for x in at_two["recipients"]) == [b["address"], c["address"]]

        # b answers across the domains; a receives it.
        reply = {"sender": b["address"], "recipients": [a["address"]], "payload": "thanks",
                 "in_reply_to": message_id}  # fmt: skip
        r = await two.client.post("/v1/messages", json=reply, headers=bearer(b["api_key"]))
        assert r.status_code == 202, r.text

        async def answered() -> bool:
            return len(await inbox(one, a)) == 1

        await until(answered)
        (got,) = await inbox(one, a)
        assert got["in_reply_to"] == message_id and got["sender"] == b["address"]


async def test_unsigned_wrongly_signed_and_relaying_requests_are_refused(gateways: Open) -> None:
    async with gateways("one.test") as one, gateways("two.test") as two:
        b = await two.register("b")
        forged = {"sender": "mallory@one.test", "recipients": [b["address"]], "payload": 1,
                  "message_id": str(uuid.uuid4())}  # fmt: skip
        unsigned = await two.client.post("/v1/messages", json=forged)
        assert unsigned.status_code == 401, unsigned.text
        assert unsigned.json()["error"]["code"] == "AUTHENTICATION_FAILED"

        # Signed, but by two.test's own key, for a sender of one.test.
        federation = two.runtime.carrier.federation
        assert federation is not None
        body = httpx.Request("POST", "x", json=forged).content
        url = f"{two.url}/v1/messages"
        headers = federation.key.signature_headers("POST", url, body, "one.test")
        wrong = await two.client.post(
            "/v1/messages", content=body, headers={**headers, "content-type": "application/json"}
        )
        assert wrong.status_code == 401, wrong.text

        # one.test's gateway, signing, for a recipient of a third domain: no open relay.
        one_key = one.runtime.carrier.federation
        assert one_key is not None
        relay = {**forged, "recipients": ["x@three.test"]}
        body = httpx.Request("POST", "x", json=relay).content
        headers = one_key.key.signature_headers("POST", url, body, "one.test")
        refused = await two.client.post(
            "/v1/messages", content=body, headers={**headers, "content-type": "application/json"}
        )
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "RELAY_DENIED"

        # The same signature over another body is refused; the right one is taken.
        body = httpx.Request("POST", "x", json=forged).content
        headers = one_key.key.signature_headers("POST", url, body, "one.test")
        tampered = await two.client.post(
            "/v1/messages", content=body.replace(b'"payload":1', b'"payload":2'),
            headers={**headers, "content-type": "application/json"},
        )  # fmt: skip
        assert tampered.status_code == 401
        taken = await two.client.post(
            "/v1/messages", content=body, headers={**headers, "content-type": "application/json"}
        )
        assert taken.status_code == 202, taken.text
        assert [m["payload"] for m in await inbox(two, b)] == [1]


async def test_an_unreachable_gateway_is_retried_then_reported(gateways: Open) -> None:
    async with gateways("one.test", amtp_max_attempts=2) as one:
        a = await one.register("a")
        message = {"sender": a["address"], "recipients": ["b@nowhere.test"], "payload": 1}
        r = await one.client.post("/v1/messages", json=message, headers=bearer(a["api_key"]))
        assert r.status_code == 202, r.text
        message_id = r.json()["message_id"]

        async def reported() -> bool:
            return len(await inbox(one, a)) == 1

        await until(reported, seconds=20)
        (report,) = await inbox(one, a)
        assert report["response_type"] == "delivery_failure"
        assert report["in_reply_to"] == message_id
        payload = report["payload"]
        assert payload["message_type"] == "delivery_failure"
        assert payload["original_message_id"] == message_id
        assert payload["failed_recipients"] == ["b@nowhere.test"]
        shown = await status(one, a, message_id)
        assert shown["status"] == "failed"
        (recipient,) = shown["recipients"]
        assert recipient["attempts"] == 2 and recipient["error_code"] == "DELIVERY_FAILED"
        metrics = (await one.client.get("/metrics")).text  # no gateway: not found, then cached
        assert "atp_amtp_gateway_lookup_failures_total 1.0" in metrics
        assert "atp_amtp_gateway_cache_hits_total 1.0" in metrics


async def test_a_domain_allowed_unsigned_is_taken_and_marked(gateways: Open) -> None:
    async with gateways("two.test", amtp_unsigned_domains=("agentry.test",)) as two:
        b = await two.register("b")
        message = {"sender": "bot@agentry.test", "recipients": [b["address"]], "payload": 1}
        r = await two.client.post("/v1/messages", json=message)
        assert r.status_code == 202, r.text
        (got,) = await inbox(two, b)
        assert got["sender"] == "bot@agentry.test" and got["sender_authenticated"] is False
        again = await two.client.post(
            "/v1/messages", json={**message, "message_id": got["message_id"]}
        )
        assert again.status_code == 409  # another request naming the same message id


async def test_a_native_send_reaches_another_domain_and_many_recipients(gateways: Open) -> None:
    """``POST /api/messages`` to another domain's address, or to ``recipients``: the A2A message
    itself reaches local recipients, and an AMTP message carrying it the remote ones."""
    async with gateways("one.test") as one, gateways("two.test") as two:
        a, d = await one.register("a"), await one.register("d")
        b = await two.register("b")
        a2a = {"messageId": "m-1", "role": "ROLE_USER", "parts": [{"text": "hello"}]}
        headers = {**bearer(a["api_key"]), "Idempotency-Key": "native-1"}
        body = {"recipients": [b["address"], d["address"]], "payload": a2a}
        r = await one.client.post("/api/messages", json=body, headers=headers)
        assert r.status_code == 202, r.text
        again = await one.client.post("/api/messages", json=body, headers=headers)
        assert again.json() == r.json()  # the same key: the same message, sent once
        message_id = r.json()["message_id"]

        async def arrived() -> bool:
            return len(await inbox(two, b)) == 1

        await until(arrived)
        (remote,) = await inbox(two, b)
        assert remote["message_id"] == message_id and remote["payload"] == a2a
        claimed = await one.client.post(
            "/api/inbox/claims", json={}, headers={**bearer(d["api_key"]), "Idempotency-Key": "c1"}
        )
        local = claimed.json()["message"]["payload"]
        assert local["parts"] == a2a["parts"] and local["messageId"] == "m-1"
        assert local["metadata"]["amtp"]["message_id"] == message_id
        single = await one.client.post(
            "/api/messages",
            json={"to": b["address"], "payload": a2a},
            headers={**bearer(a["api_key"]), "Idempotency-Key": "native-2"},
        )
        assert single.status_code == 202, single.text


async def test_the_client_sends_to_another_domain_and_to_many(gateways: Open) -> None:
    async with gateways("one.test") as one, gateways("two.test") as two:
        a, d = await one.register("a"), await one.register("d")
        b = await two.register("b")
        a2a = {"messageId": "m-2", "role": "ROLE_USER", "parts": [{"text": "hi"}]}
        async with AsyncClient(one.url, a["api_key"]) as client:
            remote = await client.send(b["address"], a2a)
            assert isinstance(remote, AmtpSent) and remote.recipients[0]["status"] == "queued"
            many = await client.send([b["address"], d["address"]], a2a)
            assert isinstance(many, AmtpSent) and len(many.recipients) == 2
            local = await client.send(d["address"], a2a)
            assert isinstance(local, MessageStatus)  # one address here: the contract's answer

        async def arrived() -> bool:
            return len(await inbox(two, b)) == 2

        await until(arrived)
