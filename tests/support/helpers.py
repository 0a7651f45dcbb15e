"""A thin test client over httpx: the contract's calls, with fresh idempotency keys."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

import attrs
import httpx
import trio

from atp import domain
from atp.domain import new_id, new_token, token_hash
from atp.ledger import Ledger


def fill(value: Any, names: dict[str, str]) -> Any:
    """``value`` with ``{name}`` placeholders in its strings (and those of its dicts)
    replaced from ``names``: a request written once as data, for many principals."""
    if isinstance(value, str):
        return value.format(**names) if "{" in value else value
    if isinstance(value, dict):
        return {k: fill(v, names) for k, v in value.items()}
    return value


def text(message_id: str = "m-1", body: str = "hello") -> dict[str, Any]:
    """A minimal valid A2A message."""
    return {"messageId": message_id, "role": "ROLE_USER", "parts": [{"text": body}]}


@attrs.frozen
class Agent:
    id: str
    address: str
    token: str
    account_token: str
    account_id: str = ""


class Api:
    """The contract's routes as methods. Each returns the raw ``httpx.Response``."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.account_ids: dict[str, str] = {}  # account token -> account id

    @staticmethod
    def headers(token: str | None, key: str | None = "") -> dict[str, str]:
        headers = {}
        if token is not None:
            headers["authorization"] = f"Bearer {token}"
        if key is not None:
            headers["idempotency-key"] = key or secrets.token_hex(8)
        return headers

    async def post(
        self, path: str, token: str | None, json: Any = None, key: str | None = ""
    ) -> httpx.Response:
        return await self.client.post(path, json=json, headers=self.headers(token, key))

    async def put(
        self, path: str, token: str | None, json: Any = None, key: str | None = ""
    ) -> httpx.Response:
        return await self.client.put(path, json=json, headers=self.headers(token, key))

    async def get(self, path: str, token: str | None) -> httpx.Response:
        return await self.client.get(path, headers=self.headers(token, None))

    # -- flows ----------------------------------------------------------------------

    async def signup(self, name: str = "Dev Network") -> str:
        """A new account; returns its account token."""
        r = await self.client.post("/api/accounts", json={"name": name})
        assert r.status_code == 201, r.text
        token: str = r.json()["account_api_key"]["token"]
        self.account_ids[token] = r.json()["id"]
        return token

    async def agent(self, account_token: str | None = None, name: str = "agent") -> Agent:
        """A new agent (in a new account unless one is given)."""
        account_token = account_token or await self.signup()
        r = await self.post("/api/agents", account_token, {"display_name": name})
        assert r.status_code == 201, r.text
        body = r.json()
        return Agent(
            body["id"], body["address"], body["agent_api_key"]["token"], account_token,
            self.account_ids.get(account_token, ""),
        )  # fmt: skip

    async def pair(self) -> tuple[Agent, Agent]:
        """Two agents of one account."""
        account = await self.signup()
        return await self.agent(account, "alpha"), await self.agent(account, "beta")

    async def send(
        self, sender: Agent, to: Agent | str, payload: Any = None, key: str = ""
    ) -> httpx.Response:
        address = to if isinstance(to, str) else to.address
        body = {"to": address, "payload": payload if payload is not None else text()}
        return await self.post("/api/messages", sender.token, body, key)

    async def claim(
        self, agent: Agent, lease_seconds: int | None = None, key: str = ""
    ) -> httpx.Response:
        body = {} if lease_seconds is None else {"lease_seconds": lease_seconds}
        return await self.post("/api/inbox/claims", agent.token, body, key)

    async def ack(
        self, agent: Agent, delivery_id: str, status: str, payload: Any = None, key: str = ""
    ) -> httpx.Response:
        body: dict[str, Any] = {"status": status}
        if payload is not None:
            body["payload"] = payload
        return await self.post(f"/api/deliveries/{delivery_id}/acks", agent.token, body, key)

    async def status(self, token: str, message_id: str) -> httpx.Response:
        return await self.get(f"/api/messages/{message_id}", token)

    async def webhook_endpoint(self, agent: Agent, url: str, **extra: Any) -> dict[str, Any]:
        """Set ``agent``'s webhook endpoint (200 expected); the endpoint document."""
        path = f"/api/agents/{agent.id}/webhook_endpoint"
        r = await self.put(path, agent.token, {"url": url, **extra})
        assert r.status_code == 200, r.text
        document: dict[str, Any] = r.json()["webhook_endpoint"]
        return document

    async def replay_finished(
        self, token: str | None, replay_id: str, within: float = 10
    ) -> dict[str, Any]:
        """The replay once it no longer runs (its actor commits after the answer)."""
        with trio.fail_after(within):
            while True:
                r = await self.get(f"/api/replays/{replay_id}", token)
                assert r.status_code == 200, r.text
                replay: dict[str, Any] = r.json()["replay"]
                if replay["state"] != "running":
                    return replay
                await trio.sleep(0.02)

    async def settled(self, agent: Agent, message_id: str, status: str) -> dict[str, Any]:
        """The message status once its webhook delivery reads ``status`` (waits for it)."""
        with trio.fail_after(10):
            while True:
                document: dict[str, Any] = (await self.status(agent.token, message_id)).json()
                deliveries = [d for d in document["deliveries"] if d["mode"] == "webhook"]
                if deliveries and deliveries[-1]["status"] == status:
                    return document
                await trio.sleep(0.02)


async def write_straight(ledger: Ledger, name: str, display_name: str, at: datetime) -> Agent:
    """An account and its agent (with a webhook endpoint) saved to the ledger directly,
    bypassing the edge and the actors: what an old ledger, or a bug, may hold."""
    account_token, agent_token = new_token("ak"), new_token("agk")
    account = domain.Account(
        account_id=new_id("acct"), name=name, plan="free",
        key_id=new_id("acctkey"), key_hash=token_hash(account_token), at=at,
    )  # fmt: skip
    agent_id = new_id("agt")
    account.admit_agent(agent_id, 2)
    agent = domain.Agent(
        agent_id=agent_id, account_id=account.account_id, display_name=display_name,
        description=display_name, key_id=new_id("agtkey"), key_hash=token_hash(agent_token),
        at=at,
    )  # fmt: skip
    agent.set_webhook_endpoint(f"https://example.com/{display_name}", "sealed", None, at)
    await ledger.save([*account.collect_events(), *agent.collect_events()])
    return Agent(agent_id, agent.address, agent_token, account_token, account.account_id)


# The audit signing key of PostgreSQL test servers (the base64 of 32 bytes; tests only).
AUDIT_KEY = "66_ISi0cnDn-4IXFK18JjmoHxXBPuUBAlz1iL1Plknw"


# Keys of a read that say how things stand now, beside the reference's (issue 23): the
# recipient's liveness on a message's status; an agent's liveness and card URL.
NOW_KEYS = ("recipient_liveness", "last_seen_at", "reachable", "a2a_agent_card_url")


def as_stored(document: dict[str, Any]) -> dict[str, Any]:
    """A read without its how-it-stands-now keys: what the ledger says, comparable
    with an earlier answer, an ``as_of`` read or another carrier's read."""
    return {k: v for k, v in document.items() if k not in NOW_KEYS}
