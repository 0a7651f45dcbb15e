"""The OpenAPI document: valid OpenAPI 3.1, served without a key, and describing exactly
the routes the app serves (so a new route cannot be left out of it)."""

from __future__ import annotations

import re

import pytest
from openapi_spec_validator import validate

from atp.actors import Runtime
from atp.api import create_app
from atp.api._openapi import openapi_document
from atp.errors import AtpError, error_for_code
from tests.support.helpers import Api


def test_the_document_is_valid_openapi_3_1() -> None:
    document = openapi_document()
    assert document["openapi"].startswith("3.1")
    validate(document)


@pytest.mark.parametrize("store", ["sqlite"])
async def test_the_document_describes_every_route_of_the_app_and_no_other(
    runtime: Runtime,
) -> None:
    app = create_app(runtime.carrier)
    served = {
        (method, re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule))
        for rule in app.url_map.iter_rules()
        # A2A's routes are A2A's (docs/a2a.md): an agent card describes them, not this;
        # AMTP's are AMTP's (docs/amtp.md).
        if rule.endpoint != "static" and not rule.rule.startswith(("/a2a", "/v1/"))
        for method in rule.methods or ()
        if method not in ("HEAD", "OPTIONS")
    }
    described = {
        (method.upper(), path)
        for path, operations in openapi_document()["paths"].items()
        for method in operations
    }
    assert described == served


def test_every_error_response_lists_codes_with_their_status_and_fixed_message() -> None:
    for path, operations in openapi_document()["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                schema = response["content"].get("application/json", {}).get("schema", {})
                if "allOf" not in schema:
                    continue
                error = schema["properties"]["error"]["properties"]
                for code in error["code"]["enum"]:
                    cls: type[AtpError] = error_for_code(code)
                    assert cls.message in error["message"]["enum"], (method, path, code)
                    # Two codes have more statuses: invalid_request is 422 for a field, 400
                    # for a malformed request, 431 and 501 for what the HTTP layer cannot
                    # read (headers too large, an unknown transfer coding);
                    # unexpected_error is 413 for a body over the limit (contract §1.0).
                    shared = {
                        "invalid_request": ("400", "431", "501"), "unexpected_error": ("413",),
                    }  # fmt: skip
                    expected = (str(cls.status), *shared.get(code, ()))
                    assert status in expected, (method, path, code)


def test_mutating_routes_take_an_idempotency_key_and_keyed_routes_a_bearer() -> None:
    for path, operations in openapi_document()["paths"].items():
        for method, operation in operations.items():
            headers = [p.get("$ref", "") for p in operation["parameters"]]
            keyed = "#/components/parameters/IdempotencyKey" in headers
            mutating = method in ("post", "put") and path != "/api/accounts"
            assert keyed == mutating, (method, path)
            public = path in ("/health", "/ready", "/openapi.json", "/api/accounts")
            public = public or path.startswith("/api/audit/")
            assert (operation["security"] == []) == public, (method, path)


async def test_the_document_is_served_without_a_key(api: Api) -> None:
    r = await api.client.get("/openapi.json")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    assert r.json() == openapi_document()
