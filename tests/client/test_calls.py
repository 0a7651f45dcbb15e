"""Every route of docs/api.md has a call, a method on both clients and a CLI command.

A route added to the docs fails here until the client and the CLI cover it. The
calls are checked against the docs' method and path, so a call cannot drift from
its route either.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from atp.cli import _main as cli_table
from atp.client import AsyncClient, Client, calls
from atp.client._http import pause

DOCS = Path(__file__).resolve().parents[2] / "docs" / "api.md"
# Operators' routes, for scrapers and tooling rather than agents (other work adds them).
OPERATOR_ROUTES = {"GET /metrics", "GET /openapi.json"}

# route -> (the call in atp.client.calls = the clients' method, the CLI command's words)
ROUTES = {
    "GET /health": ("health", "health"),
    "GET /ready": ("ready", "ready"),
    "POST /api/accounts": ("signup", "init"),
    "POST /api/agents": ("create_agent", "agent create"),
    "GET /api/agents/:id": ("agent", "agent show"),
    "POST /api/agents/:id/keys": ("rotate_agent_key", "agent rotate-key"),
    "PUT /api/agents/:id/webhook_endpoint": ("set_webhook_endpoint", "webhook set"),
    "PUT /api/agents/:id/sender_policies": ("set_sender_policy", "policy allow"),
    "POST /api/messages": ("send", "send"),
    "POST /api/messages/batch": ("send_batch", "send"),
    "GET /api/messages/:id": ("status", "message status"),
    "POST /api/inbox/claims": ("claim", "inbox"),
    "GET /api/inbox/stream": ("stream_inbox", "inbox"),
    "POST /api/deliveries/:id/extend": ("extend_lease", "lease extend"),
    "POST /api/deliveries/:id/acks": ("ack", "ack"),
    "POST /api/deliveries/acks": ("ack_batch", "ack"),
    "POST /api/sessions": ("open_session", "session open"),
    "GET /api/sessions/:id": ("session", "session show"),
    "POST /api/sessions/:id/accept": ("answer_session", "session accept"),
    "POST /api/sessions/:id/reject": ("answer_session", "session reject"),
    "POST /api/sessions/:id/messages": ("send_turn", "session send"),
    "POST /api/sessions/:id/close": ("close_session", "session close"),
    "GET /api/sessions": ("sessions", "session list"),
    "GET /api/sessions/:id/stream": ("follow_session", "session watch"),
    "POST /api/agents/:id/webhook_endpoint/signing_keys": (
        "rotate_signing_key", "webhook rotate-signing-key",
    ),
    "GET /api/agents/:id/webhook_endpoint/signing_keys": ("signing_keys", "webhook show"),
    "GET /api/dead_letters": ("dead_letters", "dead-letters"),
    "POST /api/dead_letters/:message_id/redrive": ("redrive_dead_letter", "dead-letters redrive"),
    "POST /api/dead_letters/:message_id/release": ("release_dead_letter", "dead-letters release"),
    "GET /api/events": ("events", "events"),
    "GET /api/messages/:id/history": ("message_history", "message history"),
    "POST /api/auditor_keys": ("issue_auditor_key", "auditor-key create"),
    "POST /api/messages/:id/replay": ("replay_message", "message replay"),
    "POST /api/replays": ("start_replay", "replay start"),
    "GET /api/replays/:id": ("replay", "replay show"),
    "POST /api/replays/:id/cancel": ("cancel_replay", "replay cancel"),
    "GET /api/workflows/:id": ("workflow", "workflow show"),
}  # fmt: skip
# Arguments that must have a given form to build a call; any other required one is "X".
SAMPLES: dict[str, Any] = {"payload": {}, "accept": True, "effect": "allow"}


def documented_routes() -> set[str]:
    """The routes in the table of docs/api.md's "Routes" section."""
    text = DOCS.read_text().split("## Routes", 1)[1].split("\n### ", 1)[0]
    routes = set()
    for row in (line for line in text.splitlines() if line.startswith("| `")):
        cell = row.split("|")[1]
        found = re.findall(r"`(GET|POST|PUT|PATCH|DELETE) (/[^`\s?]*)", cell)
        for method, path in found:
            routes.add(f"{method} {path}")
        for tail in re.findall(r"`…(/[\w-]+)`", cell):  # "`…/reject`": the last path's sibling
            method, path = found[-1]
            routes.add(f"{method} {path.rsplit('/', 1)[0]}{tail}")
    return routes


def test_the_docs_list_the_routes_this_table_covers() -> None:
    assert documented_routes() - OPERATOR_ROUTES == set(ROUTES)


def built(name: str) -> calls.Call[Any]:
    function = getattr(calls, name)
    arguments = {
        parameter.name: SAMPLES.get(parameter.name, "X")
        for parameter in inspect.signature(function).parameters.values()
        if parameter.default is inspect.Parameter.empty
    }
    call: calls.Call[Any] = function(**arguments)
    return call


@pytest.mark.parametrize("route", sorted(ROUTES))
def test_each_route_has_a_call_and_a_method_on_both_clients(route: str) -> None:
    name, _ = ROUTES[route]
    assert callable(getattr(Client, name)) and callable(getattr(AsyncClient, name))
    if name in ("follow_session", "stream_inbox"):  # streams, not calls: checked end to end
        return
    if name == "answer_session":
        calls_made = [calls.answer_session("t", "X", accept) for accept in (True, False)]
        assert route in {f"{c.method} {c.path.replace('/X/', '/:id/')}" for c in calls_made}
        return
    call = built(name)
    method, path = route.split(" ", 1)
    assert (call.method, call.path) == (method, re.sub(r":\w+", "X", path))
    assert (call.idempotency_key is not None) == (method != "GET" and name != "signup")


@pytest.mark.parametrize("route", sorted(ROUTES))
def test_each_route_has_a_cli_command(route: str) -> None:
    words = tuple(ROUTES[route][1].split())
    assert words in {command.words for command in cli_table._COMMANDS}


def parameters(cls: type) -> dict[str, list[inspect.Parameter]]:
    return {
        name: list(inspect.signature(member).parameters.values())
        for name, member in vars(cls).items()
        if callable(member) and not name.startswith("_") and name not in ("close", "aclose")
    }


def test_both_clients_have_the_same_methods_and_parameters() -> None:
    blocking, awaited = parameters(Client), parameters(AsyncClient)
    assert blocking == awaited
    for name in awaited:
        member = getattr(AsyncClient, name)
        assert inspect.iscoroutinefunction(member) or inspect.isasyncgenfunction(member), name


def test_secrets_stay_out_of_call_and_result_reprs() -> None:
    call = calls.set_webhook_endpoint("agk_secret", "agt_1", "https://x", ("Bearer", "cr3d"))
    assert "agk_secret" not in repr(call) and "cr3d" not in repr(call)
    endpoint = call.read(
        {"webhook_endpoint": {"url": "https://x", "active": True, "endpoint_secret": "whsec_s",
                              "signing_keys": []}}
    )  # fmt: skip
    assert "whsec_s" not in repr(endpoint)
    key = calls.rotate_agent_key("ak_x", "agt_1").read({"id": "agtkey_1", "token": "agk_new"})
    assert "agk_new" not in repr(key)


@pytest.mark.parametrize(
    ("attempt", "retry_after", "wait"),
    [
        (0, None, 0.2),  # the backoff: 0.2 s, doubled per retry
        (2, None, 0.8),
        (0, "2", 2.0),  # the store is away: come back in 2 s, not in 0.2
        (2, "1", 1.0),
        (3, "1", 1.6),  # the backoff, when it is already longer
        (0, "86400", 10.0),  # a wait longer than a client would hold a call: capped
        (0, "soon", 0.2),  # not a number of seconds: the backoff
    ],
)
def test_a_retry_waits_at_least_what_retry_after_asks(
    attempt: int, retry_after: str | None, wait: float
) -> None:
    headers = {} if retry_after is None else {"retry-after": retry_after}
    response = httpx.Response(503, headers=headers)
    assert pause(attempt, response) == pytest.approx(wait)
    assert pause(attempt, None) == pytest.approx(0.2 * 2**attempt)  # a lost connection
