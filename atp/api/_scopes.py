"""Idempotency scopes: what an ``Idempotency-Key`` is unique within, per route.

A key counts once per account, principal and route. The scope's text is stored: its
uuid5 is the ledger id of the key's ``IdempotencyRecord``, so a retry after an upgrade
finds the first answer only if the text is the same. A route's part of it is its
method and path (``POST /api/agents/agt_1/keys``), made from the route's rule, so a
new route needs nothing here; ``tests/golden/idempotency_scopes.txt`` freezes what
every route's part is. Two routes were keyed by a template before this rule; their
records keep it.
"""

from __future__ import annotations

import functools
import re

from quart import request

__all__ = ["route_scope", "scope_template"]

# Keyed by a template with ":id" since before the rule above.
_TEMPLATES = {
    ("PUT", "/api/agents/<agent_id>/sender_policies"): "PUT /api/agents/:id/sender_policies",
    ("PUT", "/api/agents/<agent_id>/webhook_endpoint"): "PUT /api/agents/:id/webhook_endpoint",
}
_VARIABLE = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")  # <name> or <converter:name>


@functools.cache  # a few dozen routes; made once each, not on every request
def scope_template(method: str, rule: str) -> str:
    """A route's part of the scope, with ``{name}`` for each of its variables."""
    return _TEMPLATES.get((method, rule)) or method + " " + _VARIABLE.sub(r"{\1}", rule)


def route_scope() -> str:
    """The current request's route part of its idempotency scope."""
    rule = request.url_rule
    assert rule is not None
    return scope_template(request.method, rule.rule).format(**(request.view_args or {}))
