"""The schema registry (``/v1/admin/schemas``) with a real Draft 2020-12 schema (``$ref``,
``oneOf``, ``additionalProperties``, formats), payloads checked on send with each
error's place, and agents that accept only the schemas they declared."""

from __future__ import annotations

from typing import Any

import attrs
import httpx
import pytest

from atp.settings import Settings
from tests.support.helpers import Api

DOMAIN = "shop.test"
ORDER = "agntcy:commerce.order.v1"
DEFINITION = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "$defs": {
        "line": {
            "type": "object",
            "properties": {"sku": {"type": "string"}, "qty": {"type": "integer", "minimum": 1}},
            "required": ["sku", "qty"],
            "additionalProperties": False,
        }
    },
    "properties": {
        "lines": {"type": "array", "items": {"$ref": "#/$defs/line"}, "minItems": 1},
        "contact": {"type": "string", "format": "email"},
        "due": {"type": "string", "format": "date-time"},
        "payment": {
            "oneOf": [
                {
                    "type": "object",
                    "required": ["card"],
                    "properties": {"card": {"type": "string"}},
                },
                {
                    "type": "object",
                    "required": ["iban"],
                    "properties": {"iban": {"type": "string"}},
                },
            ]
        },
    },
    "required": ["lines", "payment"],
    "additionalProperties": False,
}
GOOD = {"lines": [{"sku": "a-1", "qty": 2}], "contact": "ops@shop.test",
        "due": "2026-12-24T12:00:00Z", "payment": {"card": "tok_1"}}  # fmt: skip
BAD = {"lines": [{"sku": "a-1", "qty": 0, "colour": "red"}], "contact": "not mail",
       "due": "Friday", "payment": {"card": "tok_1", "iban": "DE00"}, "note": "x"}  # fmt: skip


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return attrs.evolve(settings, domain=DOMAIN, agents_per_account={"free": 5})


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def admin(key: str) -> dict[str, str]:
    return {"X-Admin-Key": key}


def code_of(response: httpx.Response) -> str:
    code: str = response.json()["error"]["code"]
    return code


async def post_schema(api: Api, key: str, body: dict[str, Any]) -> httpx.Response:
    return await api.client.post("/v1/admin/schemas", json=body, headers=admin(key))


async def register_agent(api: Api, key: str, name: str, **extra: Any) -> dict[str, Any]:
    body = {"address": name, **extra}
    r = await api.client.post("/v1/admin/agents", json=body, headers=admin(key))
    assert r.status_code == 201, r.text
    agent: dict[str, Any] = r.json()["agent"]
    return agent


async def test_the_registry_keeps_checks_and_lists_schemas(api: Api) -> None:
    key = await api.signup()
    body = {"id": ORDER, "definition": DEFINITION}
    first = await api.client.post("/v1/admin/schemas", json=body, headers=admin(key))
    assert first.status_code == 201 and first.json()["schema_id"] == ORDER, first.text
    again = await api.client.post("/v1/admin/schemas", json=body, headers=admin(key))
    assert again.status_code == 201 and again.json() == first.json()  # the same request
    other = {"id": ORDER, "definition": {"type": "object"}}
    taken = await api.client.post("/v1/admin/schemas", json=other, headers=admin(key))
    assert taken.status_code == 409 and code_of(taken) == "SCHEMA_ALREADY_EXISTS"
    forced = await api.client.post(
        "/v1/admin/schemas", json={**other, "force": True}, headers=admin(key)
    )
    assert forced.status_code == 201
    put = await api.client.put(f"/v1/admin/schemas/{ORDER}", json=body, headers=admin(key))
    assert put.status_code == 200, put.text
    shown = (await api.client.get(f"/v1/admin/schemas/{ORDER}", headers=admin(key))).json()
    assert shown["schema"]["definition"] == DEFINITION
    assert shown["schema"]["id"] == {"domain": "commerce", "entity": "order", "version": "v1",
                                     "raw": ORDER}  # fmt: skip

    v2 = {"id": "agntcy:commerce.order.v2", "definition": {"type": "object"}}
    assert (
        await api.client.post("/v1/admin/schemas", json=v2, headers=admin(key))
    ).status_code == 201
    for pattern, count in ((ORDER, 1), ("commerce", 2), ("commerce.order", 2), ("crm", 0)):
        listed = await api.client.get(f"/v1/admin/schemas?pattern={pattern}", headers=admin(key))
        assert listed.json()["count"] == count, pattern
    stats = (await api.client.get("/v1/admin/schemas/stats", headers=admin(key))).json()
    assert stats["stats"] == {"total_schemas": 2, "domains": {"commerce": 2},
                              "entities": {"order": 2}}  # fmt: skip
    # Another account has a registry of its own.
    assert (await api.client.get("/v1/admin/schemas", headers=admin(await api.signup()))).json()[
        "count"
    ] == 0

    valid = await api.client.post(f"/v1/admin/schemas/{ORDER}/validate",
                                  json={"payload": GOOD}, headers=admin(key))  # fmt: skip
    assert valid.json()["valid"] is True and valid.json()["errors"] == []
    invalid = await api.client.post(f"/v1/admin/schemas/{ORDER}/validate",
                                    json={"payload": BAD}, headers=admin(key))  # fmt: skip
    paths = {e["path"] for e in invalid.json()["errors"]}
    assert invalid.json()["valid"] is False
    assert {"", "/lines/0", "/lines/0/qty", "/contact", "/due", "/payment"} <= paths

    gone = await api.client.delete(f"/v1/admin/schemas/{ORDER}", headers=admin(key))
    assert gone.status_code == 200, gone.text
    missing = await api.client.get(f"/v1/admin/schemas/{ORDER}", headers=admin(key))
    assert missing.status_code == 404 and code_of(missing) == "SCHEMA_NOT_FOUND"
    back = await api.client.post("/v1/admin/schemas", json=body, headers=admin(key))
    assert back.status_code == 201  # registered again after its deletion


async def test_bad_schema_requests_are_refused(api: Api) -> None:
    key = await api.signup()
    cases: list[tuple[dict[str, Any], str]] = [
        ({"id": "orders", "definition": {}}, "INVALID_SCHEMA_ID"),
        ({"id": "agntcy:commerce.order", "definition": {}}, "INVALID_SCHEMA_ID"),
        ({"id": ORDER, "definition": {"type": 5}}, "INVALID_SCHEMA"),
        ({"id": ORDER, "definition": []}, "INVALID_SCHEMA"),
    ]
    for body, code in cases:
        r = await api.client.post("/v1/admin/schemas", json=body, headers=admin(key))
        assert (r.status_code, code_of(r)) == (400, code), body
    agent = await register_agent(api, key, "a")
    as_agent = await api.client.get("/v1/admin/schemas", headers=admin(agent["api_key"]))
    assert as_agent.status_code == 403
    assert (await api.client.get("/v1/admin/schemas")).status_code == 401


async def test_payloads_are_checked_on_send_and_agents_take_their_schemas(api: Api) -> None:
    key = await api.signup()
    body = {"id": ORDER, "definition": DEFINITION}
    assert (
        await api.client.post("/v1/admin/schemas", json=body, headers=admin(key))
    ).status_code == 201
    buyer = await register_agent(api, key, "buyer")
    shop = await register_agent(api, key, "shop", supported_schemas=["agntcy:commerce.order.v1"])
    anyone = await register_agent(api, key, "anyone")
    assert shop["requires_schema"] is True and shop["supported_schemas"] == [ORDER]
    unknown = await api.client.post(
        "/v1/admin/agents",
        json={"address": "x", "supported_schemas": ["agntcy:crm.lead.v1"]},
        headers=admin(key),
    )
    assert unknown.status_code == 404 and code_of(unknown) == "SCHEMA_NOT_FOUND"

    def order(to: dict[str, Any], payload: Any, schema: str | None = ORDER) -> dict[str, Any]:
        message = {"sender": buyer["address"], "recipients": [to["address"]], "payload": payload}
        return message if schema is None else {**message, "schema": schema}

    async def send(message: dict[str, Any]) -> httpx.Response:
        return await api.client.post("/v1/messages", json=message, headers=bearer(buyer["api_key"]))

    assert (await send(order(shop, GOOD))).status_code == 202
    refused = await send(order(shop, BAD))
    assert refused.status_code == 400 and code_of(refused) == "SCHEMA_VALIDATION_FAILED"
    details = refused.json()["error"]["details"]
    assert details["schema"] == ORDER
    assert "/lines/0/qty" in {e["path"] for e in details["errors"]}
    # Checked for a recipient that declared nothing too: the schema is the account's.
    assert (await send(order(anyone, BAD))).status_code == 400
    assert (await send(order(anyone, "no schema", schema=None))).status_code == 202
    plain = await send(order(shop, GOOD, schema=None))
    assert plain.status_code == 400 and code_of(plain) == "UNSUPPORTED_SCHEMA"
    newer = await send(order(shop, {"x": 1}, schema="agntcy:commerce.order.v2"))
    assert newer.status_code == 400 and code_of(newer) == "UNSUPPORTED_SCHEMA"
    assert newer.json()["error"]["details"]["alternatives"] == [ORDER]
    inbox = await api.client.get(f"/v1/inbox/{shop['address']}", headers=bearer(shop["api_key"]))
    assert [m["payload"] for m in inbox.json()["messages"]] == [GOOD]  # nothing else queued

    directory = (await api.client.get(f"/v1/discovery/agents?schema={ORDER}")).json()
    assert {a["address"] for a in directory["agents"]} == {
        buyer["address"],
        shop["address"],
        anyone["address"],
    }  # those that declared nothing take any schema
    crm = (await api.client.get("/v1/discovery/agents?schema=agntcy:crm.lead.v1")).json()
    assert shop["address"] not in {a["address"] for a in crm["agents"]}
    caps = (await api.client.get(f"/v1/capabilities/{DOMAIN}")).json()
    assert caps["schemas"] == [ORDER]
