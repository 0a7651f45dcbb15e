"""What runs around every route, as the reference's pipeline does (contract §1.0):
request ids, query parsing, method override, path segments, OPTIONS."""

from __future__ import annotations

import re

import pytest

from atp.actors import Runtime
from tests.support.helpers import Api

NOT_FOUND = {"error": {"code": "not_found", "message": "The requested resource was not found."}}
INVALID = {"error": {"code": "invalid_request", "message": "The request is invalid."}}


async def test_every_response_carries_a_new_request_id_unless_the_caller_gave_one(
    api: Api,
) -> None:
    first, second = await api.client.get("/health"), await api.client.get("/api/nothing")
    ids = [first.headers["x-request-id"], second.headers["x-request-id"]]
    assert ids[0] != ids[1]
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{20}", i) for i in ids)
    given = "caller-chosen-id-0001"
    r = await api.client.get("/health", headers={"x-request-id": given})
    assert r.headers["x-request-id"] == given
    for short_or_long in ("short", "x" * 201):  # outside 20-200 bytes: replaced
        r = await api.client.get("/health", headers={"x-request-id": short_or_long})
        assert r.headers["x-request-id"] != short_or_long


async def test_options_finds_no_route(api: Api) -> None:
    for path in ("/api/messages", "/health"):
        r = await api.client.request("OPTIONS", path)
        assert (r.status_code, r.json()) == (404, NOT_FOUND)


async def test_a_post_with_method_put_in_its_body_is_routed_as_a_put(
    api: Api, runtime: Runtime
) -> None:
    alpha = await api.agent()
    path = f"/api/agents/{alpha.id}/webhook_endpoint"
    body = {"_method": "put", "url": "https://recipient.example/hook"}
    r = await api.post(path, alpha.token, body)
    assert r.status_code == 200, r.text
    assert r.json()["webhook_endpoint"]["url"] == "https://recipient.example/hook"
    # Only the body counts, and only PUT, PATCH or DELETE.
    before = runtime.ledger.last_committed
    r = await api.post(path + "?_method=PUT", alpha.token, {"url": "https://x.example/h"})
    assert (r.status_code, r.json()) == (404, NOT_FOUND)
    r = await api.post(path, alpha.token, {"_method": "GET", "url": "https://x.example/h"})
    assert (r.status_code, r.json()) == (404, NOT_FOUND)
    assert runtime.ledger.last_committed == before


async def test_empty_path_segments_do_not_count(api: Api) -> None:
    alpha = await api.agent()
    for path in (f"/api/agents/{alpha.id}/", f"/api//agents//{alpha.id}"):
        r = await api.get(path, alpha.account_token)
        assert (r.status_code, r.json()["id"]) == (200, alpha.id)


@pytest.mark.parametrize("query", ["x=%ZZ", "x=%2", "x=%", "x=%ff%fe"])
async def test_a_query_string_that_does_not_decode_is_400(
    api: Api, runtime: Runtime, query: str
) -> None:
    alpha, beta = await api.pair()
    before = runtime.ledger.last_committed
    r = await api.client.get(
        f"/api/agents/{alpha.id}?{query}", headers=api.headers(alpha.account_token, None)
    )
    assert (r.status_code, r.json()) == (400, INVALID)
    body = {
        "to": beta.address,
        "payload": {"messageId": "m", "role": "ROLE_USER", "parts": [{"text": "x"}]},
    }
    r = await api.client.post(f"/api/messages?{query}", json=body, headers=api.headers(alpha.token))
    assert (r.status_code, r.json()) == (400, INVALID)
    assert runtime.ledger.last_committed == before
