"""The OpenAPI document's component schemas: what the routes answer, and the bodies that
have no parsing class of their own.

Request bodies that a handler parses with an attrs class are described by that class
(``atp.wire.body_schema``); the enums come from the domain's own ``Literal`` and
``StrEnum`` types. Responses are rendered as plain dicts (``atp.wire._render``), so
their shapes are written here and held to the truth by the fuzzing test (schemathesis
checks every answer against them) and the authorization matrix.
"""

from __future__ import annotations

from typing import Any, get_args

from atp.domain import (
    ENDPOINT_KINDS,
    AckStatus,
    AttemptResult,
    CarrierStatus,
    DeliveryMode,
    DeliveryStatus,
    Trust,
)
from atp.wire import (
    A2A_CONTENT_TYPE,
    A2A_VERSION,
    SAFE_ERRORS,
    AccountBody,
    AckBody,
    AgentBody,
    LeaseBody,
    SenderPolicyBody,
    SigningKeyRotationBody,
    WaitBody,
    WebhookAuthentication,
    body_schema,
)

__all__ = ["SCHEMAS", "ref"]


def ref(name: str) -> dict[str, str]:
    """A reference to the component schema ``name``."""
    return {"$ref": f"#/components/schemas/{name}"}


def _object(required: dict[str, Any], optional: dict[str, Any] | None = None) -> dict[str, Any]:
    """An object with exactly these keys (the contract fixes every key set)."""
    return {
        "type": "object",
        "required": list(required),
        "properties": {**required, **(optional or {})},
        "additionalProperties": False,
    }


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


def _enum(values: Any) -> dict[str, Any]:
    return {"type": "string", "enum": sorted(str(v) for v in values)}  # a StrEnum's values


def _id(prefix: str) -> dict[str, Any]:
    return {"type": "string", "pattern": f"^{prefix}_[A-Za-z0-9_-]{{22}}$"}


def _token(prefix: str) -> dict[str, Any]:
    return {"type": "string", "pattern": f"^{prefix}_[A-Za-z0-9_-]{{43}}$"}


_TIME = {"type": "string", "format": "date-time", "pattern": r"Z$"}
_MAYBE_TIME = _nullable(_TIME)
_ADDRESS = {"type": "string", "pattern": "^atp://agent/agt_"}
_NON_BLANK = {"type": "string", "pattern": r"\S"}

_A2A_PART: dict[str, Any] = {
    "type": "object",
    "description": "Exactly one of text, raw, url, data; other keys pass through.",
    "properties": {
        "text": {"type": "string"},
        "raw": {"type": "string"},
        "url": {"type": "string"},
        "data": {},
        "metadata": {"type": "object"},
        "filename": _NON_BLANK,
        "mediaType": _NON_BLANK,
    },
    "oneOf": [{"required": [key]} for key in ("text", "raw", "url", "data")],
}

SCHEMAS: dict[str, dict[str, Any]] = {
    "Error": _object(
        {"error": _object({"code": {"type": "string"}, "message": {"type": "string"}})}
    ),
    "A2AMessage": {
        "type": "object",
        "description": "An A2A 1.0 Message (contract §3.1), at most 65,536 bytes as compact "
        "JSON; unknown keys pass through verbatim. ROLE_AGENT needs a contextId.",
        "required": ["messageId", "role", "parts"],
        "properties": {
            "messageId": _NON_BLANK,
            "role": {"enum": ["ROLE_USER", "ROLE_AGENT"]},
            "contextId": _NON_BLANK,
            "taskId": _NON_BLANK,
            "parts": {"type": "array", "minItems": 1, "items": _A2A_PART},
            "metadata": {"type": "object"},
            "extensions": {"type": "array", "items": _NON_BLANK},
            "referenceTaskIds": {"type": "array", "items": _NON_BLANK},
        },
        "if": {"properties": {"role": {"const": "ROLE_AGENT"}}},
        "then": {"required": ["contextId"]},
    },
    # Request bodies parsed by attrs classes: described by them.
    "AccountRequest": body_schema(AccountBody),
    "AgentRequest": body_schema(AgentBody),
    "ClaimRequest": {
        "type": "object",
        "properties": {
            **body_schema(LeaseBody)["properties"],
            **body_schema(WaitBody)["properties"],
        },
        "description": "With max (1 to ATP_BATCH_MAX_MESSAGES, 500 by default), up to max "
        "messages are claimed, each on its own lease, and answered as {deliveries: [...]}.",
    },
    "LeaseRequest": body_schema(LeaseBody),
    "SenderPolicyRequest": {
        **body_schema(SenderPolicyBody),
        "description": "Exactly one non-blank target: sender_agent_id or sender_account_id.",
    },
    "SigningKeyRotationRequest": body_schema(SigningKeyRotationBody),
    "AckRequest": {
        **body_schema(AckBody),
        "properties": {
            **body_schema(AckBody)["properties"],
            "payload": _nullable(ref("A2AMessage")),
        },
    },
    # Request bodies checked field by field in the handlers.
    "SendRequest": {
        "type": "object",
        "required": ["to", "payload"],
        "properties": {"to": _ADDRESS, "payload": ref("A2AMessage")},
    },
    "TurnRequest": {
        "type": "object",
        "required": ["payload"],
        "properties": {"payload": ref("A2AMessage")},
    },
    "AnswerRequest": {
        "type": "object",
        "properties": {"payload": _nullable(ref("A2AMessage"))},
    },
    "WebhookEndpointRequest": {
        "type": "object",
        "required": ["url"],
        "properties": {
            "url": {
                "type": "string",
                "maxLength": 2048,
                "description": "A public http(s) URL (contract §5.2).",
            },
            "authentication": _nullable(body_schema(WebhookAuthentication)),
            "kind": {
                "enum": list(ENDPOINT_KINDS),
                "default": "webhook",
                "description": "webhook (a signed push), or a2a: the URL is an A2A server's"
                " JSON-RPC endpoint, called with SendMessage (docs/a2a.md).",
            },
        },
    },
    # Responses.
    "Health": _object({"status": {"const": "ok"}}),
    "Ready": _object(
        {
            "status": _enum({"ok", "error"}),
            "checks": _object(
                {
                    name: _enum({"ok", "error", "disabled"})
                    for name in ("database", "transport_runtime", "webhook_dispatcher")
                }
            ),
        }
    ),
    "Key": _object({"id": {"type": "string"}, "token": {"type": "string"}}),
    "Account": _object(
        {
            "id": _id("acct"),
            "name": {"type": "string"},
            "plan": {"const": "free"},
            "account_api_key": _object({"id": _id("acctkey"), "token": _token("ak")}),
        }
    ),
    "Agent": _object(
        {
            "id": _id("agt"),
            "address": _ADDRESS,
            "display_name": {"type": ["string", "null"]},
            "description": {"type": ["string", "null"]},
            "active_agent_key_id": _nullable(_id("agtkey")),
        },
        # Beside the reference's keys, on GET /api/agents/{agent_id} (docs/a2a.md).
        {
            "a2a_agent_card_url": {"type": "string", "format": "uri"},
            "last_seen_at": _MAYBE_TIME,
            "reachable": {"type": "boolean"},
        },
    ),
    "Liveness": _object({"last_seen_at": _MAYBE_TIME, "reachable": {"type": "boolean"}}),
    "AgentCreated": _object(
        {
            "id": _id("agt"),
            "address": _ADDRESS,
            "display_name": {"type": ["string", "null"]},
            "description": {"type": ["string", "null"]},
            "active_agent_key_id": _id("agtkey"),
            "agent_api_key": {"$ref": "#/components/schemas/AgentKey"},
        }
    ),
    "AgentKey": _object({"id": _id("agtkey"), "token": _token("agk")}),
    "SigningKey": _object(
        {
            "id": {"type": "string"},
            "public_key": {"type": "string", "pattern": "^whpk_"},
            "created_at": _TIME,
            "retires_at": _MAYBE_TIME,
        }
    ),
    "SigningKeys": _object({"signing_keys": {"type": "array", "items": ref("SigningKey")}}),
    "WebhookEndpoint": _object(
        {
            "webhook_endpoint": _object(
                {
                    "url": {"type": "string"},
                    "kind": _enum(ENDPOINT_KINDS),
                    "active": {"type": "boolean"},
                    "endpoint_secret": _token("whsec"),
                    "signing_keys": {"type": "array", "items": ref("SigningKey")},
                }
            )
        }
    ),
    "SenderPolicy": _object(
        {
            "sender_policy": _object(
                {
                    "id": _id("spol"),
                    "recipient_agent_id": _id("agt"),
                    "sender_agent_id": {"type": ["string", "null"]},
                    "sender_account_id": {"type": ["string", "null"]},
                    "effect": _enum({"allow", "block"}),
                    "updated_at": _TIME,
                }
            )
        }
    ),
    "Envelope": _object(
        {
            "id": _id("msg"),
            "from": _ADDRESS,
            "to": _ADDRESS,
            "trust": _enum(get_args(Trust)),
            "payload": {"type": "object"},
            "content_type": {"const": A2A_CONTENT_TYPE},
            "a2a_version": {"const": A2A_VERSION},
            "created_at": _TIME,
            "expires_at": _TIME,
        },
        {"session_id": _id("ses"), "session_sequence": {"type": "integer", "minimum": 1}},
    ),
    "Attempt": _object(
        {
            "id": {"type": "string"},
            "attempt_number": {"type": "integer"},
            "response_status": {"type": ["integer", "null"]},
            "error": _nullable(_enum(SAFE_ERRORS)),
            "result": _enum(get_args(AttemptResult)),
            "next_attempt_at": _MAYBE_TIME,
            "created_at": _TIME,
        },
        {"request_url": {"type": ["string", "null"]}},  # the recipient side only
    ),
    "Delivery": _object(
        {
            "id": _id("dlv"),
            "mode": _enum(DeliveryMode),
            "status": _enum(DeliveryStatus),
            "claimed_at": _MAYBE_TIME,
            "leased_until": _MAYBE_TIME,
            "attempt_count": {"type": "integer", "minimum": 0},
            "max_attempts": {"type": ["integer", "null"]},
            "next_attempt_at": _MAYBE_TIME,
            "delivered_at": _MAYBE_TIME,
            "last_error": _nullable(_enum(SAFE_ERRORS)),
            "attempts": {"type": "array", "items": ref("Attempt")},
        }
    ),
    "MessageStatus": _object(
        {
            "message": ref("Envelope"),
            "carrier_status": _enum(CarrierStatus),
            "ack_status": _nullable(_enum(AckStatus)),
            "terminal_at": _MAYBE_TIME,
            "deliveries": {"type": "array", "items": ref("Delivery")},
        },
        # Beside the reference's keys, on GET /api/messages/{message_id}: the recipient's.
        {"recipient_liveness": ref("Liveness")},
    ),
    "Claim": _object(
        {"id": _id("dlv"), "leased_until": _TIME, "message": ref("Envelope")},
        {"replay_id": _id("rpl")},  # an inbox replay handed out as a claim
    ),
    "NoClaim": _object({"delivery": {"type": "null"}}),
    # With "max": the claims made, none (200) or up to max (201).
    "Claims": _object({"deliveries": {"type": "array", "items": ref("Claim")}}),
    "ClaimAnswer": {"oneOf": [ref("Claim"), ref("Claims")]},
    "NoClaimAnswer": {"oneOf": [ref("NoClaim"), ref("Claims")]},
    "Ack": _object(
        {
            "ack": _object(
                {
                    "id": _id("ack"),
                    "message_id": _id("msg"),
                    "delivery_id": _id("dlv"),
                    "status": _enum(AckStatus),
                    "payload": {"type": ["object", "null"]},
                    "created_at": _TIME,
                }
            ),
            "message_status": ref("MessageStatus"),
        },
        {"session": ref("Session")},  # session answers (accept, reject, opening ACKs)
    ),
    "InboxEvent": {
        "description": "One Server-Sent Event: `delivery`, a message claimed for the "
        "consumer on its own lease (renewed while connected); its `id` is the delivery's.",
        **_object(
            {
                "event": {"const": "delivery"},
                "id": _id("dlv"),
                "data": {
                    "type": "string",
                    "contentMediaType": "application/json",
                    "contentSchema": ref("Claim"),
                },
            }
        ),
    },
    "DeadLetters": _object(
        {
            "dead_letters": {
                "type": "array",
                "items": _object(
                    {"dead_lettered_at": _TIME, "message_status": ref("MessageStatus")}
                ),
            },
            "next_after": _nullable(_id("msg")),
        }
    ),
}

# For the document's other tables (``_openapi_audit``, ``_openapi_sessions``).
object_of, nullable, id_of, enum_of = _object, _nullable, _id, _enum
TIME, MAYBE_TIME, ADDRESS = _TIME, _MAYBE_TIME, _ADDRESS
