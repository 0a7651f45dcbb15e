"""Idempotency scopes: every mutating route's is made from its rule, and frozen."""

from __future__ import annotations

from pathlib import Path

from atp.actors import IdempotencyGate, Runtime
from atp.api import create_app
from atp.api._scopes import scope_template
from atp.api.a2a import SEND_SCOPE
from atp.domain import IdempotencyRecord
from tests.support.helpers import Api

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "idempotency_scopes.txt"
MUTATING = {"POST", "PUT", "PATCH", "DELETE"}
# Mutating routes without an idempotency key: an account is opened before any key exists.
UNKEYED = {("POST", "/api/accounts")}


async def test_the_scopes_of_every_mutating_route_are_frozen(runtime: Runtime) -> None:
    """A scope is stored (its uuid5 is its record's ledger id): a changed text would let
    a request retried after an upgrade run again. A new route adds its line; an existing
    line never changes."""
    app = create_app(runtime.carrier)
    routes = {
        (rule.rule, method)
        for rule in app.url_map.iter_rules()
        for method in (rule.methods or set()) & MUTATING
        if not rule.rule.startswith("/a2a")  # A2A keys sends by messageId (below)
    }
    lines = [
        f"{method} {rule} -> {scope_template(method, rule)}"
        for rule, method in sorted(routes)
        if (method, rule) not in UNKEYED
    ]
    assert lines == GOLDEN.read_text().splitlines()
    assert SEND_SCOPE == "A2A SendMessage"  # an A2A send's, whichever binding it came by


async def test_a_request_is_recorded_under_its_routes_scope(api: Api, runtime: Runtime) -> None:
    alpha = await api.agent()
    key = "scope-key-1"
    answer = await api.post(f"/api/agents/{alpha.id}/keys", alpha.account_token, {}, key=key)
    assert answer.status_code == 201, answer.text
    route = f"POST /api/agents/{alpha.id}/keys"
    scope = IdempotencyGate.scope(alpha.account_id, "account", alpha.account_id, route, key)
    record = await runtime.ledger.get(IdempotencyRecord, IdempotencyRecord.create_id(scope))
    assert record is not None and record.scope == scope
