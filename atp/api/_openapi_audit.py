"""The audit log's part of the OpenAPI document: its routes and schemas (docs/audit.md)."""

from __future__ import annotations

from typing import Any

from atp.api._openapi_routes import Route
from atp.api._openapi_schemas import id_of, nullable, object_of, ref
from atp.errors import InvalidRequest, NotFound

__all__ = ["AUDIT_ROUTES", "AUDIT_SCHEMAS"]

_READER = ("account", "agent", "auditor")
_NUMBER = {"type": "string", "pattern": "^[0-9]{1,20}$"}
_FILTERS = {
    name: {"type": "string", "minLength": 1} for name in ("type", "message", "session", "agent")
}
_BASE64 = {"type": "string", "contentEncoding": "base64", "pattern": "^[A-Za-z0-9+/]{43}=$"}
_INDEX = {"type": "integer", "minimum": 0}
_SIZE = {"type": "integer", "minimum": 1}

AUDIT_ROUTES: tuple[Route, ...] = (
    Route(
        "POST",
        "/api/auditor_keys",
        "A read-only key of the account's audit trail: events, histories, proofs and"
        " message statuses (each payload it reads is recorded in the ledger).",
        {201: "AuditorKey"},
        ("account",),
        True,
    ),
    Route(
        "GET",
        "/api/audit/key",
        "The audit log's origin and the verifier key of its checkpoints.",
        {200: "AuditKey"},
    ),
    Route(
        "GET",
        "/api/audit/checkpoint",
        "The newest signed checkpoint (C2SP tlog-checkpoint in a signed note), or the one"
        " of tree `size`: text/plain, byte for byte as signed.",
        {200: "Checkpoint"},
        errors=(InvalidRequest, NotFound),
        query={"size": _NUMBER},
    ),
    Route(
        "GET",
        "/api/audit/proofs/inclusion",
        "RFC 9162 inclusion proof of leaf `index` in the tree of `size` leaves.",
        {200: "InclusionProof"},
        errors=(InvalidRequest, NotFound),
        query={"index": _NUMBER, "size": _NUMBER},
        required=("index", "size"),
    ),
    Route(
        "GET",
        "/api/audit/proofs/consistency",
        "RFC 9162 consistency proof: the tree of `to` leaves extends the tree of `from`.",
        {200: "ConsistencyProof"},
        errors=(InvalidRequest, NotFound),
        query={"from": _NUMBER, "to": _NUMBER},
        required=("from", "to"),
    ),
    Route(
        "GET",
        "/api/events",
        "The audit records the caller may see, in log order, `limit` at a time after the"
        " cursor `after`.",
        {200: "AuditEvents"},
        _READER,
        errors=(InvalidRequest,),
        query={"after": _NUMBER, "limit": _NUMBER, **_FILTERS},
    ),
    Route(
        "GET",
        "/api/events/stream",
        "The same records as Server-Sent Events (`id:` is the cursor; `Last-Event-ID`"
        " resumes), then each new one as it is recorded; heartbeats while idle.",
        {200: "AuditEventStream"},
        _READER,
        errors=(InvalidRequest,),
        query={"after": _NUMBER, **_FILTERS},
        stream=True,
    ),
    Route(
        "GET",
        "/api/messages/{message_id}/history",
        "The message's timeline: every audit record of it in order (sent, policy, leases,"
        " webhook attempts with status and latency, ACKs, dead letters, expiry), each with"
        " a line a person can read.",
        {200: "MessageHistory"},
        _READER,
        errors=(NotFound,),
    ),
)

_EVENT = {
    "index": _INDEX,
    "record": {
        "type": "object",
        "description": "The audit record; its RFC 8785 form is the leaf (docs/audit.md).",
    },
    "leaf_hash": _BASE64,
}

AUDIT_SCHEMAS: dict[str, dict[str, Any]] = {
    "AuditorKey": object_of(
        {"id": id_of("audkey"), "token": {"type": "string"}, "role": {"const": "auditor"}}
    ),
    "AuditKey": object_of(
        {
            "origin": {"type": "string"},
            "key_name": {"type": "string"},
            "verifier_key": {
                "type": "string",
                "description": "C2SP signed-note verifier key: <name>+<hex key id>+<base64>.",
            },
        }
    ),
    "InclusionProof": object_of(
        {
            "index": _INDEX,
            "size": _SIZE,
            "leaf_hash": _BASE64,
            "hashes": {"type": "array", "items": _BASE64},
        }
    ),
    "ConsistencyProof": object_of(
        {"from": _SIZE, "to": _SIZE, "hashes": {"type": "array", "items": _BASE64}}
    ),
    "AuditEvent": object_of(_EVENT),
    "AuditEvents": object_of(
        {
            "events": {"type": "array", "items": ref("AuditEvent")},
            "next": nullable({"type": "string", "pattern": "^[0-9]+$"}),
        }
    ),
    "MessageHistory": object_of(
        {
            "message_id": id_of("msg"),
            "history": {
                "type": "array",
                "items": object_of({**_EVENT, "description": {"type": "string"}}),
            },
        }
    ),
}
