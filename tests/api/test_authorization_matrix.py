"""Every route that reads or changes something, tried as every principal (contract §1.0,
§2.4): each answer is the contract's, a refusal commits nothing, and no answer carries
another principal's data.

Two accounts: X with agents x1 (the owner of every resource here) and x2 (its sibling),
Y with agent y1 (a stranger, though a participant in x1's sessions). Besides the three
agent keys and two account keys, a key of x2's that was rotated away, and no key. The
table is walked once per store, in order; within a route the principals go in
``ORDER``, so a route's last calls see what its first ones did (the session's recipient
answers before the initiator tries, x2's key is rotated last).
"""

from __future__ import annotations

from typing import Any

import attrs
import httpx
import trio

from atp.actors import Runtime
from atp.errors import error_for_code
from tests.support.helpers import Agent, Api, fill, text

ORDER = ("none", "rotated", "other_account", "stranger", "sibling", "account", "owner")
Expected = int | tuple[int, str]  # a success status, or an error's (status, code)

AGENT_ONLY: dict[str, Expected] = {
    "none": (401, "unauthorized"),
    "rotated": (401, "unauthorized"),
    "other_account": (403, "agent_key_required"),
    "account": (403, "agent_key_required"),
}
ACCOUNT_ONLY: dict[str, Expected] = {
    "none": (401, "unauthorized"),
    "rotated": (401, "unauthorized"),
    "owner": (403, "account_key_required"),
    "sibling": (403, "account_key_required"),
    "stranger": (403, "account_key_required"),
}
KEYED = {"none": (401, "unauthorized"), "rotated": (401, "unauthorized")}
SELF_ONLY = {"sibling": (404, "not_found"), "stranger": (404, "not_found")}
PARTICIPANTS = {"sibling": (404, "not_found")}  # x1 and y1 are the sessions' parties


@attrs.frozen
class Route:
    method: str
    path: str  # with {x1}, {x2}, {m}, {d}, {r}, {s1}, {s2}, {y1_address}, {x1_address}, {Y}
    expect: dict[str, Expected]
    body: Any = None


MATRIX: list[Route] = [
    Route("GET", "/api/agents/{x1}", {**ACCOUNT_ONLY, "account": 200,
                                      "other_account": (404, "not_found")}),
    Route("GET", "/api/agents/{x1}/webhook_endpoint/signing_keys", {
        **AGENT_ONLY, **SELF_ONLY, "owner": 200, "account": 200,
        "other_account": (404, "not_found")}),
    Route("POST", "/api/agents/{x1}/webhook_endpoint/signing_keys",
          {**AGENT_ONLY, **SELF_ONLY, "owner": 201}, {}),
    Route("PUT", "/api/agents/{x1}/sender_policies", {**AGENT_ONLY, **SELF_ONLY, "owner": 200},
          {"effect": "allow", "sender_account_id": "{Y}"}),
    Route("GET", "/api/messages/{m}", {**AGENT_ONLY, **SELF_ONLY, "owner": 200, "account": 200,
                                       "other_account": (404, "not_found")}),
    Route("POST", "/api/messages", {**AGENT_ONLY, "owner": 201, "sibling": 201,
                                    "stranger": 201},
          {"to": "{x1_address}", "payload": text()}),
    # y1's inbox holds the openings of x1's sessions with it; x2's is empty.
    Route("POST", "/api/inbox/claims", {**AGENT_ONLY, "owner": 201, "sibling": 200,
                                        "stranger": 201}, {"lease_seconds": 60}),
    Route("POST", "/api/deliveries/{d}/extend", {**AGENT_ONLY, **SELF_ONLY, "owner": 200},
          {"lease_seconds": 30}),
    Route("POST", "/api/deliveries/{d}/acks", {**AGENT_ONLY, **SELF_ONLY, "owner": 201},
          {"status": "completed"}),
    Route("GET", "/api/sessions/{s1}", {**AGENT_ONLY, **PARTICIPANTS, "owner": 200,
                                        "stranger": 200}),
    Route("GET", "/api/sessions/{s1}/stream", {**AGENT_ONLY, **PARTICIPANTS, "owner": 200,
                                               "stranger": 200}),
    # Only the recipient answers a session (§1.12): to its initiator it does not exist.
    Route("POST", "/api/sessions/{s1}/accept", {**AGENT_ONLY, **PARTICIPANTS, "stranger": 201,
                                                "owner": (404, "not_found")}, {}),
    Route("POST", "/api/sessions/{s1}/messages", {**AGENT_ONLY, **PARTICIPANTS, "owner": 201,
                                                  "stranger": 201}, {"payload": text()}),
    Route("POST", "/api/sessions/{s2}/reject", {**AGENT_ONLY, **PARTICIPANTS, "stranger": 201,
                                                "owner": (404, "not_found")}, {}),
    Route("POST", "/api/sessions/{s1}/close", {**AGENT_ONLY, **PARTICIPANTS, "stranger": 200,
                                               "owner": (409, "session_not_open")}, {}),
    Route("POST", "/api/sessions", {**AGENT_ONLY, "owner": 201, "sibling": 201,
                                    "stranger": (422, "invalid_session_recipient")},
          {"to": "{y1_address}", "payload": text()}),
    Route("GET", "/api/sessions", {**AGENT_ONLY, "owner": 200, "sibling": 200,
                                   "stranger": 200}),
    Route("GET", "/api/dead_letters", {**AGENT_ONLY, "owner": 200, "sibling": 200,
                                       "stranger": 200}),
    # Redrive needs an endpoint first: x1 has none yet.
    Route("POST", "/api/dead_letters/{m}/redrive", {
        **AGENT_ONLY, **SELF_ONLY, "owner": (409, "webhook_endpoint_inactive")}, {}),
    Route("POST", "/api/dead_letters/{m}/release", {
        **AGENT_ONLY, **SELF_ONLY, "owner": (409, "not_dead_lettered")}, {}),
    Route("PUT", "/api/agents/{x1}/webhook_endpoint", {**AGENT_ONLY, **SELF_ONLY, "owner": 200},
          {"url": "https://example.com/hook"}),
    Route("POST", "/api/agents", {**ACCOUNT_ONLY, "account": (422, "plan_limit_exceeded"),
                                  "other_account": 201}, {"display_name": "third"}),
    # The audit trail (docs/audit.md): a principal reads what it may read today.
    Route("GET", "/api/events?limit=1000", {**KEYED, "owner": 200, "sibling": 200,
                                            "stranger": 200, "account": 200,
                                            "other_account": 200}),
    Route("GET", "/api/messages/{m}/history", {**KEYED, **SELF_ONLY, "owner": 200, "account": 200,
                                               "other_account": (404, "not_found")}),
    Route("GET", "/api/messages/{m}?as_of={i}", {**AGENT_ONLY, **SELF_ONLY, "owner": 200,
                                                 "account": 200,
                                                 "other_account": (404, "not_found")}),
    Route("GET", "/api/sessions/{s1}?as_of={i}", {**AGENT_ONLY, **PARTICIPANTS, "owner": 200,
                                                  "stranger": 200}),
    Route("POST", "/api/auditor_keys", {**ACCOUNT_ONLY, "account": 201, "other_account": 201},
          {}),
    # Replays (docs/api.md "Replays"): the recipient starts them; it and its account see them.
    Route("POST", "/api/messages/{m}/replay", {**AGENT_ONLY, **SELF_ONLY, "owner": 202},
          {"target": "inbox"}),
    Route("POST", "/api/replays", {**AGENT_ONLY, "owner": 202, "sibling": 202, "stranger": 202},
          {"target": "inbox"}),
    Route("GET", "/api/replays/{r}", {**KEYED, **SELF_ONLY, "owner": 200, "account": 200,
                                      "other_account": (404, "not_found")}),
    Route("POST", "/api/replays/{r}/cancel", {
        **KEYED, **SELF_ONLY, "owner": (409, "replay_finished"),
        "account": (409, "replay_finished"), "other_account": (404, "not_found")}, {}),
    # Last: the account rotates x2's key, which ends x2's current one.
    Route("POST", "/api/agents/{x2}/keys", {**ACCOUNT_ONLY, "account": 201,
                                            "other_account": (404, "not_found")}, {}),
]  # fmt: skip


@attrs.frozen
class World:
    tokens: dict[str, str | None]  # principal -> token
    names: dict[str, str]  # path and body placeholders
    addresses: dict[str, str]  # principal -> the agent's address
    secrets: frozenset[str]  # every key made in setup: never in any answer
    unseen: dict[str, frozenset[str]]  # principal -> ids whose audit records it never sees


async def build_world(api: Api) -> World:
    x_key, y_key = await api.signup("X"), await api.signup("Y")
    x1, x2, y1 = await api.agent(x_key, "x1"), await api.agent(x_key, "x2"), await api.agent(y_key)
    rotated_away = x2.token
    rotated = await api.post(f"/api/agents/{x2.id}/keys", x_key, {})
    x2 = attrs.evolve(x2, token=rotated.json()["token"])
    sent = await api.send(x1, x1)
    claimed = await api.claim(x1, 60)
    sessions = [
        (await api.post("/api/sessions", x1.token, {"to": y1.address, "payload": text()})).json()
        for _ in range(2)
    ]
    agents: dict[str, Agent] = {"owner": x1, "sibling": x2, "stranger": y1}
    tokens: dict[str, str | None] = {name: agent.token for name, agent in agents.items()}
    tokens |= {"account": x_key, "other_account": y_key, "none": None, "rotated": rotated_away}
    names = {
        "x1": x1.id, "x2": x2.id, "m": sent.json()["message"]["id"], "d": claimed.json()["id"],
        "s1": sessions[0]["session"]["id"], "s2": sessions[1]["session"]["id"],
        "x1_address": x1.address, "y1_address": y1.address, "Y": api.account_ids[y_key],
    }  # fmt: skip
    replay = await api.post(f"/api/messages/{names['m']}/replay", x1.token, {"target": "inbox"})
    names["r"] = replay.json()["replay"]["id"]
    await api.replay_finished(x1.token, names["r"])
    secrets = frozenset(t for t in tokens.values() if t is not None)
    events = await api.client.get("/api/events?limit=1000", headers=api.headers(x_key, None))
    names["i"] = str(events.json()["events"][-1]["index"])
    mine = {names["m"], x1.id, names["r"]}  # x1's own: its agent, message and replay
    theirs = {names["s1"], names["s2"]}  # x1's sessions with y1
    unseen = {
        "owner": {x2.id, y1.id}, "sibling": mine | theirs | {y1.id}, "stranger": mine | {x2.id},
        "account": {y1.id}, "other_account": mine | {x2.id},
    }  # fmt: skip
    addresses = {k: a.address for k, a in agents.items()}
    return World(tokens, names, addresses, secrets, {k: frozenset(v) for k, v in unseen.items()})


async def call(api: Api, route: Route, token: str | None, names: dict[str, str]) -> tuple[int, Any]:
    """The status and JSON body (None for a stream that opened: it stays open)."""
    path = fill(route.path, names)
    key = "" if route.method != "GET" else None
    headers = api.headers(token, key)
    with trio.fail_after(10):
        if path.endswith("/stream"):
            async with api.client.stream("GET", path, headers=headers) as r:
                if r.status_code == 200:
                    return 200, None
                return r.status_code, httpx.Response(r.status_code, content=await r.aread()).json()
        r = await api.client.request(route.method, path, json=fill(route.body, names),
                                     headers=headers)  # fmt: skip
        return r.status_code, r.json()


def problems_with(
    route: Route, who: str, expected: Expected, status: int, body: Any, world: World
) -> list[str]:
    """What is wrong with one answer (nothing: an empty list)."""
    label = f"{route.method} {route.path} as {who}"
    found: list[str] = []
    if isinstance(expected, tuple):
        code = expected[1]
        envelope = {"error": {"code": code, "message": error_for_code(code).message}}
        if (status, body) != (expected[0], envelope):
            found.append(f"{label}: expected {expected}, got {status} {body}")
        return found
    if status != expected:
        found.append(f"{label}: expected {expected}, got {status} {body}")
    text_of = repr(body)
    found += [f"{label}: answer holds a setup key" for s in world.secrets if s in text_of]
    claimed = route.path == "/api/inbox/claims" and status == 201
    if claimed and body["message"]["to"] != world.addresses[who]:
        found.append(f"{label}: claimed a message of another agent")
    if route.path.startswith("/api/events") and status == 200:
        seen = {e["record"]["aggregate"]["id"] for e in body["events"]}
        if seen & world.unseen[who]:
            found.append(f"{label}: sees records of {sorted(seen & world.unseen[who])}")
    if route.path == "/api/sessions" and route.method == "GET" and who == "sibling":
        listed = {s["id"] for s in body["sessions"]}
        if listed & {world.names["s1"], world.names["s2"]}:
            found.append(f"{label}: lists sessions it is not a party to")
    return found


async def test_every_route_answers_every_principal_as_the_contract_says(
    api: Api, runtime: Runtime
) -> None:
    world = await build_world(api)
    assert world.tokens["rotated"] != world.tokens["sibling"]
    problems: list[str] = []
    answered = 0
    for route in MATRIX:
        assert set(route.expect) == set(ORDER), route
        for who in ORDER:
            before = runtime.ledger.last_committed
            status, body = await call(api, route, world.tokens[who], world.names)
            answered += 1
            expected = route.expect[who]
            problems += problems_with(route, who, expected, status, body, world)
            if status == 202:
                await api.replay_finished(world.tokens[who], body["replay"]["id"])
            if isinstance(expected, tuple) and runtime.ledger.last_committed != before:
                problems.append(f"{route.method} {route.path} as {who}: a refusal committed")
    assert not problems, "\n".join(problems)
    assert answered == len(MATRIX) * len(ORDER)
