"""Input that a store cannot hold or a query cannot carry is refused at the edge, alike on
both stores: the contract's error, nothing committed, and the carrier keeps serving.

PostgreSQL's text cannot hold a NUL character (SQLite's can), so a NUL in a stored
string once answered 201 and then stopped the projection, and a NUL in a path id or a
query parameter answered 500 on PostgreSQL; a ``Last-Event-ID`` too long for ``int()``
answered 500 and one of 2**63 or more killed the stream after its 200.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import trio

from atp.actors import Runtime
from atp.errors import error_for_code
from tests.support.helpers import Agent, Api, fill, text

NUL = "a\u0000b"

# (label, method, path template, principal, body, status, code). Templates name {me},
# the calling agent, and {other}, an agent of another account.
BODY_CASES: list[tuple[str, str, str, str | None, Any, int, str]] = [
    ("account name", "POST", "/api/accounts", None, {"name": NUL}, 422, "invalid_account"),
    ("display_name", "POST", "/api/agents", "account", {"display_name": NUL}, 422,
     "invalid_request"),
    ("description", "POST", "/api/agents", "account", {"description": NUL}, 422,
     "invalid_request"),
    ("webhook url", "PUT", "/api/agents/{me}/webhook_endpoint", "agent",
     {"url": "https://example.com/a\u0000b"}, 422, "invalid_webhook_url"),
    ("webhook credentials", "PUT", "/api/agents/{me}/webhook_endpoint", "agent",
     {"url": "https://example.com/", "authentication": {"scheme": "Bearer",
                                                         "credentials": NUL}},
     422, "invalid_webhook_authentication"),
    ("policy sender agent", "PUT", "/api/agents/{me}/sender_policies", "agent",
     {"effect": "allow", "sender_agent_id": "{other}\u0000"}, 422, "invalid_sender_policy"),
    ("policy sender account", "PUT", "/api/agents/{me}/sender_policies", "agent",
     {"effect": "block", "sender_account_id": NUL}, 422, "invalid_sender_policy"),
    ("send to", "POST", "/api/messages", "agent",
     {"to": "atp://agent/{other}\u0000", "payload": text()}, 422, "recipient_not_found"),
    ("session to", "POST", "/api/sessions", "agent",
     {"to": "atp://agent/\u0000", "payload": text()}, 422, "recipient_not_found"),
]  # fmt: skip


def assert_error(status: int, body: Any, expected_status: int, code: str) -> None:
    message = error_for_code(code).message
    assert (status, body) == (expected_status, {"error": {"code": code, "message": message}})


async def committed_nothing(api: Api, runtime: Runtime, before: int) -> None:
    """Nothing reached the ledger, and the carrier still serves and projects (a view that
    cannot store a row would have stopped the projection on PostgreSQL)."""
    assert runtime.ledger.last_committed == before
    alpha, beta = await api.pair()
    assert (await api.send(alpha, beta)).status_code == 201
    with trio.fail_after(10):
        await runtime.projections.wait_current()
    assert (await api.client.get("/ready")).status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "principal", "body", "status", "code"),
    [case[1:] for case in BODY_CASES],
    ids=[case[0] for case in BODY_CASES],
)
async def test_a_nul_in_a_stored_string_is_refused_with_the_fields_code(
    api: Api, runtime: Runtime, method: str, path: str, principal: str | None,
    body: Any, status: int, code: str,
) -> None:  # fmt: skip
    me = await api.agent()
    other = await api.agent()
    names = {"me": me.id, "other": other.id}
    token = {"agent": me.token, "account": me.account_token, None: None}[principal]
    before = runtime.ledger.last_committed
    r = await api.client.request(
        method, fill(path, names), json=fill(body, names), headers=api.headers(token)
    )
    assert_error(r.status_code, r.json(), status, code)
    await committed_nothing(api, runtime, before)


async def test_a_nul_in_a_form_body_or_the_query_string_is_refused(
    api: Api, runtime: Runtime
) -> None:
    before = runtime.ledger.last_committed
    form = {"content-type": "application/x-www-form-urlencoded"}
    r = await api.client.post("/api/accounts", content=b"name=a%00b", headers=form)
    assert_error(r.status_code, r.json(), 422, "invalid_account")
    # Query parameters join the body's: a NUL there is refused before any route runs.
    r = await api.client.post("/api/accounts?name=a%00b", json={})
    assert_error(r.status_code, r.json(), 400, "invalid_request")
    agent = await api.agent()
    before = runtime.ledger.last_committed
    for path in ("/api/sessions?after=%00", "/api/dead_letters?after=ses_%00"):
        r = await api.get(path, agent.token)
        assert_error(r.status_code, r.json(), 400, "invalid_request")
    await committed_nothing(api, runtime, before)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/agents/%00"),
        ("GET", "/api/agents/agt_%00"),
        ("POST", "/api/agents/agt_%00/keys"),
        ("GET", "/api/messages/msg_%00"),
        ("POST", "/api/deliveries/dlv_%00/extend"),
        ("POST", "/api/deliveries/dlv_%00/acks"),
        ("GET", "/api/sessions/ses_%00"),
        ("GET", "/api/sessions/ses_%00/stream"),
        ("POST", "/api/sessions/ses_%00/accept"),
        ("PUT", "/api/agents/%00/webhook_endpoint"),
        ("GET", "/api/agents/%00/webhook_endpoint/signing_keys"),
        ("POST", "/api/dead_letters/msg_%00/release"),
    ],
)
async def test_a_nul_in_a_path_id_is_404_not_found(
    api: Api, runtime: Runtime, method: str, path: str
) -> None:
    agent = await api.agent()
    by_account = path.startswith("/api/agents/") and "webhook_endpoint" not in path
    token = agent.account_token if by_account else agent.token
    before = runtime.ledger.last_committed
    body = {"status": "completed", "url": "https://example.com/"} if method != "GET" else None
    r = await api.client.request(method, path, json=body, headers=api.headers(token))
    assert_error(r.status_code, r.json(), 404, "not_found")
    await committed_nothing(api, runtime, before)


async def test_a_nul_in_a_payload_is_kept_and_read_back_exactly(api: Api, store: str) -> None:
    """Payloads are stored as JSON text, where a NUL is the escape ``\\u0000``: both
    stores keep it, so an A2A message passes through verbatim."""
    alpha, beta = await api.pair()
    payload = {**text(body=NUL), "metadata": {NUL: [NUL, {"k\u0000": 1}]}}
    sent = await api.send(alpha, beta, payload)
    assert sent.status_code == 201, sent.text
    claimed = await api.claim(beta, 60)
    assert claimed.json()["message"]["payload"] == payload
    answer = {**text("ack-1", NUL), "role": "ROLE_AGENT", "contextId": "c\u0000"}
    assert (await api.ack(beta, claimed.json()["id"], "completed", answer)).status_code == 201
    status = (await api.status(alpha.token, sent.json()["message"]["id"])).json()
    assert status["message"]["payload"] == payload
    assert status["ack_status"] == "completed"


async def stream_status(api: Api, agent: Agent, session_id: str, last_event_id: str) -> Any:
    """The stream's status and, for an error, its body (a 200 stays open: not read)."""
    headers = {"authorization": f"Bearer {agent.token}", "last-event-id": last_event_id}
    with trio.fail_after(10):
        path = f"/api/sessions/{session_id}/stream"
        async with api.client.stream("GET", path, headers=headers) as r:
            if r.status_code == 200:
                return 200, None
            return r.status_code, httpx.Response(r.status_code, content=await r.aread()).json()


@pytest.mark.parametrize(
    "last_event_id", ["9" * 5000, str(2**63), str(2**64), "9" * 20, "1e3", "0x10"]
)
async def test_a_last_event_id_that_cannot_be_a_version_is_422(
    api: Api, last_event_id: str
) -> None:
    alpha, beta = await api.pair()
    r = await api.post("/api/sessions", alpha.token, {"to": beta.address, "payload": text()})
    session_id = r.json()["session"]["id"]
    status, body = await stream_status(api, alpha, session_id, last_event_id)
    assert_error(status, body, 422, "invalid_request")


async def test_the_largest_last_event_id_streams_what_follows_it(api: Api) -> None:
    """2**63 - 1 is a version both stores can compare: the stream opens (and, past every
    event, waits); a close ends it and the server goes on answering."""
    alpha, beta = await api.pair()
    r = await api.post("/api/sessions", alpha.token, {"to": beta.address, "payload": text()})
    session_id = r.json()["session"]["id"]
    assert (await stream_status(api, alpha, session_id, str(2**63 - 1)))[0] == 200
    assert (await stream_status(api, alpha, session_id, "1"))[0] == 200
    assert (await api.get(f"/api/sessions/{session_id}", alpha.token)).status_code == 200


LIMITS = ("/api/sessions?limit=", "/api/dead_letters?limit=", "/api/sessions?after=x&limit=")


@pytest.mark.parametrize("value", ["9" * 5000, "١٢", "12.0", "-1"])
async def test_a_query_number_that_is_not_ascii_digits_in_range_is_422(
    api: Api, value: str
) -> None:
    agent = await api.agent()
    for path in LIMITS:
        r = await api.get(path + value, agent.token)
        assert_error(r.status_code, r.json(), 422, "invalid_request")
