"""Bad input through a real Hypercorn: the contract's error envelope (exact code, status and
message text of §1.0), never a 500, and nothing written to the ledger."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable
from typing import Any

import httpx
import pytest
import trio

from atp.actors import Runtime
from tests.support.helpers import Agent, Api, text

MESSAGES = {
    "account_key_required": "An account API key is required for this operation.",
    "agent_key_required": "An agent API key is required for this operation.",
    "idempotency_key_required": "An Idempotency-Key header is required.",
    "invalid_a2a_message": "The payload must be a valid A2A Message object.",
    "invalid_account": "The account request is invalid.",
    "invalid_lease": "The requested delivery lease is invalid.",
    "invalid_request": "The request is invalid.",
    "not_found": "The requested resource was not found.",
    "payload_required": "A payload field is required.",
    "payload_too_large": "The encoded JSON payload exceeds 64KB.",
    "recipient_not_found": "The recipient agent was not found.",
    "recipient_required": "A recipient address is required.",
    "unauthorized": "Authentication is required.",
    "unexpected_error": "An unexpected error occurred.",
}
PAYLOAD_LIMIT = 65_536
JSON = {"content-type": "application/json"}
LENGTH = re.compile(rb"(?im)^content-length: *(\d+)")
OVERSIZED = b"[" + b"0," * 64_000 + b"0]"  # 128,003 bytes of valid JSON


def assert_error(status: int, body: Any, expected_status: int, code: str) -> None:
    assert (status, body) == (expected_status, {"error": {"code": code, "message": MESSAGES[code]}})


async def rejects(
    runtime: Runtime, call: Awaitable[httpx.Response], status: int, code: str
) -> None:
    """``call`` answers the error envelope and commits nothing to the ledger."""
    before = runtime.ledger.last_committed
    r = await call
    assert_error(r.status_code, r.json(), status, code)
    assert runtime.ledger.last_committed == before


async def raw(
    base_url: str, method: str, path: str, headers: list[tuple[str, str]], body: Any = None
) -> tuple[int, Any]:
    """Send header bytes httpx refuses to write (e.g. ``Bearer `` with nothing after it)."""
    url = httpx.URL(base_url)
    assert url.port is not None
    content = json.dumps({} if body is None else body).encode()
    lines = [f"{method} {path} HTTP/1.1", f"host: {url.host}", "connection: close"]
    lines += [f"{k}: {v}" for k, v in headers]
    lines += ["content-type: application/json", f"content-length: {len(content)}", "", ""]
    received = b""
    async with await trio.open_tcp_stream(url.host, url.port) as stream:
        await stream.send_all("\r\n".join(lines).encode() + content)
        while True:
            received += await stream.receive_some()
            head, sep, answer = received.partition(b"\r\n\r\n")
            if sep and len(answer) >= int(LENGTH.findall(head)[0]):
                return int(head.split()[1]), json.loads(answer)


async def leased(api: Api) -> tuple[Agent, Agent, str]:
    """Sender, recipient and the id of a delivery the recipient holds."""
    alpha, beta = await api.pair()
    assert (await api.send(alpha, beta)).status_code == 201
    r = await api.claim(beta, 60)
    assert r.status_code == 201
    return alpha, beta, r.json()["id"]


# -- body parsing ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "route", ["/api/accounts", "/api/agents", "/api/messages", "/api/inbox/claims"]
)
async def test_malformed_json_is_400_invalid_request(
    api: Api, runtime: Runtime, route: str
) -> None:
    alpha, _ = await api.pair()
    token = alpha.account_token if route == "/api/agents" else alpha.token
    headers = {**api.headers(token, "k-malformed"), "content-type": "application/json"}
    call = api.client.post(route, content=b'{"to": "atp://agent/x", ', headers=headers)
    await rejects(runtime, call, 400, "invalid_request")


@pytest.mark.parametrize(
    ("content", "status", "code"),
    [(b'{"to": ', 400, "invalid_request"), (OVERSIZED, 413, "unexpected_error")],
)
async def test_body_is_parsed_before_authentication(
    api: Api, runtime: Runtime, content: bytes, status: int, code: str
) -> None:
    call = api.client.post("/api/messages", content=content, headers=JSON)
    await rejects(runtime, call, status, code)


@pytest.mark.parametrize(
    ("route", "body", "code"),
    [
        ("/api/messages", [{"to": "atp://agent/x", "payload": text()}], "recipient_required"),
        ("/api/accounts", [{"name": "Dev Network"}], "invalid_account"),
    ],
)
async def test_top_level_json_array_is_not_an_object(
    api: Api, runtime: Runtime, route: str, body: Any, code: str
) -> None:
    alpha, _ = await api.pair()
    await rejects(runtime, api.post(route, alpha.token, body), 422, code)


@pytest.mark.parametrize("size", ["small", "over 128,000 bytes"])
async def test_non_json_content_type_is_read_as_no_parameters(
    api: Api, runtime: Runtime, size: str
) -> None:
    # Passed through unparsed (contract §1.0), so not read, and its size does not count.
    alpha, beta = await api.pair()
    content = json.dumps({"to": beta.address, "payload": text()}).encode()
    if size != "small":
        content += b" " * 128_000
    headers = {**api.headers(alpha.token), "content-type": "text/plain"}
    call = api.client.post("/api/messages", content=content, headers=headers)
    await rejects(runtime, call, 422, "recipient_required")
    assert (await api.client.get("/health")).status_code == 200


async def test_body_over_128000_bytes_is_413_unexpected_error(api: Api, runtime: Runtime) -> None:
    # The reference has no code of its own for it (contract §1.0).
    alpha, beta = await api.pair()
    call = api.send(alpha, beta, text(body="x" * 128_000))
    await rejects(runtime, call, 413, "unexpected_error")
    big = {"name": "n" * 128_000}
    await rejects(runtime, api.client.post("/api/accounts", json=big), 413, "unexpected_error")


async def test_a_413_closes_the_connection_and_the_next_request_is_answered(api: Api) -> None:
    # The unread rest of the body must never be read as the next request.
    r = await api.client.post("/api/accounts", content=OVERSIZED, headers=JSON)
    assert r.status_code == 413
    assert r.headers["connection"] == "close"
    assert (await api.client.get("/health")).json() == {"status": "ok"}


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize(
    "content",
    [
        b'{"name": "n", "x": NaN}',
        b'{"name": "n", "x": Infinity}',
        b'{"name": "n", "x": -Infinity}',
        b'{"name": "n", "x": 1e999}',
        b'{"name": "n\\ud800"}',  # an escaped lone surrogate
        b'{"name": "n\xed\xa0\x80"}',  # an encoded one (not UTF-8)
        b"\xef\xbb\xbf" + b'{"name": "n"}',  # a byte-order mark
        '{"name": "n"}'.encode("utf-16"),
        f'{{"name": "n", "x": {nested(513)}}}'.encode(),
        f'{{"name": "n", "x": {nested(5000)}}}'.encode(),
    ],
    ids=[
        "nan", "infinity", "minus-infinity", "overflow", "lone-surrogate-escape",
        "lone-surrogate-bytes", "bom", "utf-16", "513-deep", "5000-deep",
    ],
)  # fmt: skip
async def test_body_that_is_not_strict_json_is_400_invalid_request(
    api: Api, runtime: Runtime, content: bytes
) -> None:
    # Without the strict parser these were created (201), or failed (500, too deep).
    call = api.client.post("/api/accounts", content=content, headers=JSON)
    await rejects(runtime, call, 400, "invalid_request")


async def test_non_json_numbers_in_a_payload_are_400_not_payload_must_be_json(
    api: Api, runtime: Runtime
) -> None:
    # payload_must_be_json is for non-HTTP callers only (contract §1.9).
    alpha, beta = await api.pair()
    content = (
        f'{{"to": "{beta.address}", "payload": {{"messageId": "m", "role": "ROLE_USER",'
        ' "parts": [{"data": NaN}]}}'
    ).encode()
    headers = {**api.headers(alpha.token), "content-type": "application/json"}
    await rejects(
        runtime,
        api.client.post("/api/messages", content=content, headers=headers),
        400,
        "invalid_request",
    )


async def test_a_payload_nested_500_deep_is_sent_and_replayed(api: Api) -> None:
    alpha, beta = await api.pair()
    payload = {"messageId": "m", "role": "ROLE_USER", "parts": [{"data": json.loads(nested(500))}]}
    first = await api.send(alpha, beta, payload, key="deep")
    assert first.status_code == 201
    again = await api.send(alpha, beta, payload, key="deep")
    assert (again.status_code, again.content) == (201, first.content)
    claimed = await api.claim(beta)
    assert claimed.json()["message"]["payload"] == payload


# -- wrong types ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "to", [5, None, "", "   ", ["atp://agent/x"], {"address": "x"}, "<absent>"]
)
async def test_send_without_a_string_recipient_is_recipient_required(
    api: Api, runtime: Runtime, to: Any
) -> None:
    alpha, _ = await api.pair()
    body = {"payload": text()} if to == "<absent>" else {"to": to, "payload": text()}
    await rejects(runtime, api.post("/api/messages", alpha.token, body), 422, "recipient_required")


@pytest.mark.parametrize("lease", ["60", 1.5, -1, True, 60.0, [60]])
async def test_claim_or_extend_with_a_non_integer_or_negative_lease_is_invalid_lease(
    api: Api, runtime: Runtime, lease: Any
) -> None:
    _, beta, delivery = await leased(api)
    for path in ("/api/inbox/claims", f"/api/deliveries/{delivery}/extend"):
        call = api.post(path, beta.token, {"lease_seconds": lease})
        await rejects(runtime, call, 422, "invalid_lease")


@pytest.mark.parametrize(
    "body", [{"display_name": "d" * 121}, {"description": "d" * 2001}, {"display_name": 5}]
)
async def test_agent_with_invalid_fields_is_422_invalid_request(
    api: Api, runtime: Runtime, body: dict[str, Any]
) -> None:
    account = await api.signup()
    await rejects(runtime, api.post("/api/agents", account, body), 422, "invalid_request")


async def test_agent_display_name_of_120_chars_is_accepted(api: Api) -> None:
    account = await api.signup()
    r = await api.post("/api/agents", account, {"display_name": "d" * 120})
    assert (r.status_code, r.json()["display_name"]) == (201, "d" * 120)


@pytest.mark.parametrize(
    "body", [{}, {"name": ""}, {"name": "   "}, {"name": None}, {"name": 5}, {"name": "n" * 256}]
)
async def test_account_without_a_usable_name_is_invalid_account(
    api: Api, runtime: Runtime, body: dict[str, Any]
) -> None:
    await rejects(runtime, api.client.post("/api/accounts", json=body), 422, "invalid_account")


# -- payloads -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ("<absent>", "payload_required"),
        (None, "invalid_a2a_message"),
        ([text()], "invalid_a2a_message"),
        ("hello", "invalid_a2a_message"),
        (5, "invalid_a2a_message"),
        (True, "invalid_a2a_message"),
        ({**text(), "role": "user"}, "invalid_a2a_message"),
        ({**text(), "parts": []}, "invalid_a2a_message"),
        ({"messageId": "m", "role": "ROLE_AGENT", "parts": [{"text": "x"}]}, "invalid_a2a_message"),
    ],
)
async def test_send_with_a_missing_or_invalid_payload_is_rejected(
    api: Api, runtime: Runtime, payload: Any, code: str
) -> None:
    alpha, beta = await api.pair()
    body = {"to": beta.address, "payload": payload}
    if payload == "<absent>":
        del body["payload"]
    await rejects(runtime, api.post("/api/messages", alpha.token, body), 422, code)


def sized(size: int) -> dict[str, Any]:
    """A valid A2A message whose compact JSON encoding is exactly ``size`` bytes."""
    base = len(json.dumps(text(body=""), separators=(",", ":")))
    return text(body="x" * (size - base))


async def test_payload_over_64_kib_is_413_payload_too_large_and_64_kib_fits(
    api: Api, runtime: Runtime
) -> None:
    alpha, beta = await api.pair()
    big = sized(PAYLOAD_LIMIT + 1)
    await rejects(runtime, api.send(alpha, beta, big), 413, "payload_too_large")
    # Size is checked before shape: an oversized non-A2A object is still "too large".
    huge = {"junk": "x" * PAYLOAD_LIMIT}
    call = api.post("/api/messages", alpha.token, {"to": beta.address, "payload": huge})
    await rejects(runtime, call, 413, "payload_too_large")
    r = await api.send(alpha, beta, sized(PAYLOAD_LIMIT))  # the limit itself is allowed
    assert r.status_code == 201, r.text
    assert r.json()["message"]["payload"] == sized(PAYLOAD_LIMIT)


async def test_ack_with_an_invalid_or_oversized_payload_is_rejected(
    api: Api, runtime: Runtime
) -> None:
    _, beta, delivery = await leased(api)
    path = f"/api/deliveries/{delivery}/acks"
    call = api.post(path, beta.token, {"status": "completed", "payload": {"role": "ROLE_USER"}})
    await rejects(runtime, call, 422, "invalid_a2a_message")
    call = api.post(path, beta.token, {"status": "completed", "payload": sized(PAYLOAD_LIMIT + 1)})
    await rejects(runtime, call, 413, "payload_too_large")


# -- unknown ids and routes -----------------------------------------------------------------


async def test_unknown_or_foreign_ids_are_404_not_found(api: Api, runtime: Runtime) -> None:
    alpha, beta = await api.pair()
    stranger = await api.agent()
    sent = await api.send(alpha, beta)
    message_id = sent.json()["message"]["id"]
    for token in (alpha.token, alpha.account_token):
        await rejects(runtime, api.status(token, "msg_nope"), 404, "not_found")
    for token in (stranger.token, stranger.account_token):
        await rejects(runtime, api.status(token, message_id), 404, "not_found")
    account = alpha.account_token
    await rejects(runtime, api.get("/api/agents/agt_nope", account), 404, "not_found")
    await rejects(runtime, api.get(f"/api/agents/{stranger.id}", account), 404, "not_found")
    await rejects(
        runtime, api.post(f"/api/agents/{stranger.id}/keys", account, {}), 404, "not_found"
    )
    for action, body in (("acks", {"status": "completed"}), ("extend", {})):
        call = api.post(f"/api/deliveries/dlv_nope/{action}", beta.token, body)
        await rejects(runtime, call, 404, "not_found")


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/api/nope"), ("POST", "/api/nope"), ("GET", "/nope"), ("GET", "/api/inbox/claims")],
)
async def test_unknown_route_is_404_not_found(
    api: Api, runtime: Runtime, method: str, path: str
) -> None:
    alpha, _ = await api.pair()
    call = api.client.request(method, path, headers=api.headers(alpha.token), json={})
    await rejects(runtime, call, 404, "not_found")


@pytest.mark.parametrize(
    "to",
    ["atp://agent/agt_AAAAAAAAAAAAAAAAAAAAAA", "{id}", "{upper}", "{address}x", "atp://agent/"],
)
async def test_send_to_an_address_that_is_not_an_active_agent_is_recipient_not_found(
    api: Api, runtime: Runtime, to: str
) -> None:
    alpha, beta = await api.pair()
    address = to.format(id=beta.id, address=beta.address, upper=beta.address.upper())
    await rejects(runtime, api.send(alpha, address), 422, "recipient_not_found")


async def test_send_trims_the_recipient_address(api: Api) -> None:
    alpha, beta = await api.pair()
    r = await api.send(alpha, f"  {beta.address}\t")
    assert (r.status_code, r.json()["message"]["to"]) == (201, beta.address)


# -- authentication -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "authorization",
    [[], ["Basic x"], ["Bearer "], ["bearer <token>"], ["Bearer agk_nope"], ["<token>"], ["2x"]],
)
async def test_bad_authorization_is_401_unauthorized(
    api: Api, runtime: Runtime, base_url: str, authorization: list[str]
) -> None:
    alpha, beta = await api.pair()
    if authorization == ["2x"]:
        authorization = ["Bearer <token>", "Bearer <token>"]
    headers = [("authorization", a.replace("<token>", alpha.token)) for a in authorization]
    send = {"to": beta.address, "payload": text()}
    message_id = (await api.send(alpha, beta)).json()["message"]["id"]
    before = runtime.ledger.last_committed
    keyed = [*headers, ("idempotency-key", "k-auth")]
    status, answer = await raw(base_url, "POST", "/api/messages", keyed, send)
    assert_error(status, answer, 401, "unauthorized")
    status, answer = await raw(base_url, "GET", f"/api/messages/{message_id}", headers)
    assert_error(status, answer, 401, "unauthorized")
    assert runtime.ledger.last_committed == before


async def test_wrong_kind_of_key_is_403(api: Api, runtime: Runtime) -> None:
    alpha, beta, delivery = await leased(api)
    for call in (  # agent keys cannot touch agents, not even their own
        api.post("/api/agents", alpha.token, {}),
        api.get(f"/api/agents/{alpha.id}", alpha.token),
        api.post(f"/api/agents/{alpha.id}/keys", alpha.token, {}),
    ):
        await rejects(runtime, call, 403, "account_key_required")
    account = alpha.account_token
    for call in (
        api.post("/api/messages", account, {"to": beta.address, "payload": text()}),
        api.post("/api/inbox/claims", account, {}),
        api.post(f"/api/deliveries/{delivery}/acks", account, {"status": "completed"}),
        api.post(f"/api/deliveries/{delivery}/extend", account, {}),
    ):
        await rejects(runtime, call, 403, "agent_key_required")


# -- idempotency key and precedence ---------------------------------------------------------


@pytest.mark.parametrize("key", [None, "   "])
async def test_mutation_without_an_idempotency_key_is_400(
    api: Api, runtime: Runtime, base_url: str, key: str | None
) -> None:
    alpha, beta, delivery = await leased(api)
    calls: list[tuple[str, str, dict[str, Any]]] = [
        ("/api/agents", alpha.account_token, {}),
        (f"/api/agents/{alpha.id}/keys", alpha.account_token, {}),
        ("/api/messages", alpha.token, {"to": beta.address, "payload": text()}),
        ("/api/inbox/claims", beta.token, {}),
        (f"/api/deliveries/{delivery}/acks", beta.token, {"status": "completed"}),
        (f"/api/deliveries/{delivery}/extend", beta.token, {}),
    ]
    before = runtime.ledger.last_committed
    for path, token, body in calls:
        headers = [("authorization", f"Bearer {token}")]
        if key is not None:
            headers.append(("idempotency-key", key))
        status, answer = await raw(base_url, "POST", path, headers, body)
        assert_error(status, answer, 400, "idempotency_key_required")
    assert runtime.ledger.last_committed == before


async def test_key_is_checked_before_the_body_on_routes_other_than_send(
    api: Api, runtime: Runtime
) -> None:
    alpha, beta, _ = await leased(api)
    for call in (
        api.post("/api/agents", alpha.account_token, {"display_name": "d" * 121}, key=None),
        api.post("/api/inbox/claims", beta.token, {"lease_seconds": -1}, key=None),
        api.post("/api/deliveries/dlv_nope/acks", beta.token, {"status": "bogus"}, key=None),
    ):
        await rejects(runtime, call, 400, "idempotency_key_required")


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"payload": {"bad": True}}, 422, "recipient_required"),
        ({"to": "<beta>"}, 422, "payload_required"),
        ({"to": "<beta>", "payload": {"bad": True}}, 422, "invalid_a2a_message"),
        ({"to": "atp://agent/agt_nope", "payload": {"bad": True}}, 422, "invalid_a2a_message"),
        ({"to": "atp://agent/agt_nope", "payload": "<large>"}, 413, "payload_too_large"),
        ({"to": "atp://agent/agt_nope", "payload": "<valid>"}, 400, "idempotency_key_required"),
    ],
)
async def test_send_validates_body_before_the_key_and_the_key_before_the_recipient(
    api: Api, runtime: Runtime, body: dict[str, Any], status: int, code: str
) -> None:
    alpha, beta = await api.pair()
    fills = {"<beta>": beta.address, "<large>": sized(PAYLOAD_LIMIT + 1), "<valid>": text()}
    body = {k: fills.get(v, v) if isinstance(v, str) else v for k, v in body.items()}
    await rejects(runtime, api.post("/api/messages", alpha.token, body, key=None), status, code)
