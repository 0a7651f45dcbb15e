"""The official AMTP Python SDK's calls, as it makes them (``amtp/agent.py``, read from
its source; it is not on PyPI, so its wire behaviour is replayed here with httpx):
``connect`` (``GET /health``), ``register`` with a full address, ``receive`` (the
inbox, parsed as the SDK's ``Message.from_dict`` does), a reply with ``in_reply_to``,
``acknowledge``. Only 200, 201 and 202 count as success to it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import attrs
import httpx
import pytest

from atp.settings import Settings
from tests.support.helpers import Api

DOMAIN = "sdk.test"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return attrs.evolve(settings, domain=DOMAIN)


class SdkAgent:
    """``amtp.AMTP(address, gateway_url, api_key=...)`` on the wire."""

    def __init__(self, client: httpx.AsyncClient, address: str, api_key: str) -> None:
        self.client = client
        self.address = address
        self.api_key = api_key  # an account key until registered, then the agent's

    async def request(
        self, method: str, path: str, json: Any = None, params: Any = None
    ) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self.api_key}"}
        r = await self.client.request(method, path, json=json, params=params, headers=headers)
        assert r.status_code in (200, 201, 202), r.text  # what the SDK counts as success
        body: dict[str, Any] = r.json() if r.headers["content-type"] == "application/json" else {}
        return body

    async def start(self) -> None:
        await self.request("GET", "/health")
        body = {"address": self.address, "delivery_mode": "pull"}
        agent = (await self.request("POST", "/v1/admin/agents", body)).get("agent", {})
        self.api_key = agent["api_key"]
        self.address = agent["address"]

    async def send(self, recipients: list[str], payload: Any, **extra: Any) -> str:
        message = {
            "version": "1.0",
            "message_id": str(uuid.uuid4()),  # the SDK makes UUIDv4 ids
            "idempotency_key": str(uuid.uuid4()),
            "timestamp": datetime.now(UTC).isoformat(),
            "sender": self.address,
            "recipients": recipients,
            "payload": payload,
            **extra,
        }
        answer = await self.request("POST", "/v1/messages", message)
        message_id: str = answer.get("message_id", message["message_id"])
        return message_id

    async def receive(self, limit: int = 10) -> list[dict[str, Any]]:
        answer = await self.request("GET", f"/v1/inbox/{self.address}", params={"limit": limit})
        messages = answer.get("messages") or []
        for message in messages:  # Message.from_dict, then its validate()
            assert message["sender"].count("@") == 1 and message["recipients"]
            datetime.fromisoformat(message["timestamp"].replace("Z", "+00:00"))
        return list(messages)

    async def acknowledge(self, message_id: str) -> None:
        await self.request("DELETE", f"/v1/inbox/{self.address}/{message_id}")


async def test_sdk_agents_register_receive_reply_and_acknowledge(api: Api) -> None:
    admin = await api.signup()
    worker = SdkAgent(api.client, f"worker@{DOMAIN}", admin)
    client = SdkAgent(api.client, f"client@{DOMAIN}", admin)
    await worker.start()
    await client.start()
    assert worker.address == f"worker@{DOMAIN}"

    sent = await client.send([worker.address], {"task": "sum", "args": [2, 3]}, subject="Job")
    (job,) = await worker.receive()
    assert job["message_id"] == sent and job["subject"] == "Job"
    # The SDK's message loop: handle, reply to the sender, acknowledge.
    reply = {"sum": sum(job["payload"]["args"])}
    await worker.send([job["sender"]], reply, subject=f"Re: {job['subject']}", in_reply_to=sent)
    await worker.acknowledge(job["message_id"])
    assert await worker.receive() == []

    (answer,) = await client.receive()
    assert answer["in_reply_to"] == sent and answer["payload"] == {"sum": 5}
    assert answer["sender"] == worker.address
    await client.acknowledge(answer["message_id"])
    assert await client.receive() == []
