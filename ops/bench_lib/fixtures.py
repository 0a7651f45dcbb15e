"""Fixtures through the public API: accounts, agents, pre-filled inboxes, open sessions
(and their transcripts, read back to check the sequences).

A free account holds at most 2 agents, so many agents means many accounts. A sender in
the recipient's account is trusted, so every send the bench makes stays inside one
account (no unknown-sender rate limit). Setup runs ``concurrency`` keep-alive
connections (16 by default); any non-2xx answer aborts it with :class:`SetupError`.
"""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import trio

from bench_lib.http import Connection, ProtocolError, json_request

__all__ = [
    "Account",
    "Agent",
    "Session",
    "SetupError",
    "open_accounts",
    "open_sessions",
    "pool_map",
    "prefill",
    "set_webhook_endpoints",
    "transcripts",
]

T = TypeVar("T")
R = TypeVar("R")


class SetupError(Exception):
    """A fixture request failed."""


@dataclass(frozen=True)
class Agent:
    id: str
    address: str
    token: str


@dataclass(frozen=True)
class Account:
    id: str
    token: str
    agents: tuple[Agent, ...]


@dataclass(frozen=True)
class Session:
    """An open session: the initiator opened it, the recipient accepted it."""

    id: str
    initiator: Agent
    recipient: Agent


def _payload(key: str, text: str) -> dict[str, Any]:
    """A minimal A2A message."""
    return {"messageId": key, "role": "ROLE_USER", "parts": [{"text": text}]}


async def _call(conn: Connection, data: bytes) -> dict[str, Any]:
    try:
        status, body = await conn.request(data)
    except (ProtocolError, OSError) as exc:
        raise SetupError(f"setup request failed: {exc}") from None
    if not 200 <= status < 300:
        line = data.split(b"\r\n", 1)[0].decode()
        raise SetupError(f"{line} -> {status}: {body[:300].decode('utf-8', 'replace')}")
    reply: dict[str, Any] = json.loads(body)
    return reply


async def pool_map(
    port: int,
    items: Sequence[T],
    fn: Callable[[Connection, T], Awaitable[R]],
    concurrency: int = 16,
    progress: str | None = None,
) -> list[R]:
    """``fn(conn, item)`` for every item, ``concurrency`` connections at a time, in order."""
    results: dict[int, R] = {}
    indexes = iter(range(len(items)))
    step = max(1, len(items) // 10)

    async def worker() -> None:
        async with Connection(port) as conn:
            for i in indexes:  # shared iterator: each index is taken once
                results[i] = await fn(conn, items[i])
                if progress and (i + 1) % step == 0:
                    print(f"  {progress}: {i + 1}/{len(items)}", file=sys.stderr, flush=True)

    async with trio.open_nursery() as nursery:
        for _ in range(min(concurrency, len(items))):
            nursery.start_soon(worker)
    return [results[i] for i in range(len(items))]


async def open_accounts(
    port: int,
    count: int,
    *,
    agents_each: int = 2,
    prefix: str = "bench",
    concurrency: int = 16,
    progress: str | None = None,
) -> list[Account]:
    """``count`` free accounts with ``agents_each`` agents each."""

    async def one(conn: Connection, n: int) -> Account:
        name = f"{prefix}-{n}"
        reply = await _call(conn, json_request("POST", "/api/accounts", port, {"name": name}))
        token: str = reply["account_api_key"]["token"]
        agents = []
        for a in range(agents_each):
            data = json_request(
                "POST",
                "/api/agents",
                port,
                {"display_name": f"{name}-agent-{a}"},
                token=token,
                idempotency_key=str(uuid.uuid4()),
            )
            agent = await _call(conn, data)
            agents.append(Agent(agent["id"], agent["address"], agent["agent_api_key"]["token"]))
        return Account(reply["id"], token, tuple(agents))

    return await pool_map(port, range(count), one, concurrency, progress)


async def prefill(
    port: int,
    routes: Sequence[tuple[Agent, Agent]],
    per_route: int,
    *,
    concurrency: int = 16,
    progress: str | None = None,
    text_bytes: int = 0,
) -> int:
    """Send ``per_route`` messages along each ``(sender, recipient)``; the number sent.
    Each message's text is ``text_bytes`` long if that is set."""
    jobs = [(sender, recipient, n) for n in range(per_route) for sender, recipient in routes]
    padding = "x" * text_bytes

    async def one(conn: Connection, job: tuple[Agent, Agent, int]) -> None:
        sender, recipient, n = job
        key = str(uuid.uuid4())
        data = json_request(
            "POST",
            "/api/messages",
            port,
            {"to": recipient.address, "payload": _payload(key, padding or f"prefill {n}")},
            token=sender.token,
            idempotency_key=key,
        )
        await _call(conn, data)

    await pool_map(port, jobs, one, concurrency, progress)
    return len(jobs)


async def set_webhook_endpoints(
    port: int, endpoints: Sequence[tuple[Agent, str]], *, concurrency: int = 16
) -> None:
    """``PUT /api/agents/:id/webhook_endpoint`` for each ``(agent, url)``."""

    async def one(conn: Connection, job: tuple[Agent, str]) -> None:
        agent, url = job
        data = json_request(
            "PUT",
            f"/api/agents/{agent.id}/webhook_endpoint",
            port,
            {"url": url},
            token=agent.token,
            idempotency_key=str(uuid.uuid4()),
        )
        await _call(conn, data)

    await pool_map(port, endpoints, one, concurrency)


async def open_sessions(
    port: int, pairs: Sequence[tuple[Agent, Agent]], *, concurrency: int = 16
) -> list[Session]:
    """For each ``(initiator, recipient)``: ``POST /api/sessions``, then the recipient's
    ``POST /api/sessions/:id/accept``; the open sessions, in order."""

    async def one(conn: Connection, pair: tuple[Agent, Agent]) -> Session:
        initiator, recipient = pair
        key = str(uuid.uuid4())
        body = {"to": recipient.address, "payload": _payload(key, "hello")}
        data = json_request(
            "POST", "/api/sessions", port, body, token=initiator.token, idempotency_key=key
        )
        session_id: str = (await _call(conn, data))["session"]["id"]
        path = f"/api/sessions/{session_id}/accept"
        data = json_request(
            "POST", path, port, {}, token=recipient.token, idempotency_key=str(uuid.uuid4())
        )
        await _call(conn, data)
        return Session(session_id, initiator, recipient)

    return await pool_map(port, pairs, one, concurrency)


async def transcripts(
    port: int, sessions: Sequence[Session], *, concurrency: int = 16
) -> list[tuple[int, list[tuple[int, str]]]]:
    """Each session's ``last_sequence`` and its transcript as ``(sequence, message id)``,
    read page by page with ``GET /api/sessions/:id`` as the initiator."""

    async def one(conn: Connection, session: Session) -> tuple[int, list[tuple[int, str]]]:
        messages: list[tuple[int, str]] = []
        after: int | None = 0
        last = 0
        while after is not None:
            path = f"/api/sessions/{session.id}?after_sequence={after}&limit=500"
            reply = await _call(
                conn, json_request("GET", path, port, token=session.initiator.token)
            )
            last = reply["session"]["last_sequence"]
            messages += [
                (m["message"]["session_sequence"], m["message"]["id"]) for m in reply["messages"]
            ]
            after = reply["next_after_sequence"]
        return last, messages

    return await pool_map(port, sessions, one, concurrency)
