"""The batch routes' part of the OpenAPI document (docs/api.md, "Batches")."""

from __future__ import annotations

from typing import Any

from atp.api._openapi_routes import Route
from atp.api._openapi_schemas import SCHEMAS, object_of, ref
from atp.errors import InvalidRequest

__all__ = ["BATCH_ROUTES", "BATCH_SCHEMAS"]

BATCH_ROUTES: tuple[Route, ...] = (
    Route(
        "POST",
        "/api/messages/batch",
        "Send up to ATP_BATCH_MAX_MESSAGES (500) messages in one request. Each item is"
        " answered on its own, as POST /api/messages would answer it with the item's"
        " idempotency_key (default: the Idempotency-Key header, a slash and the item's"
        " index), in the order given; one item's error leaves the others alone.",
        {200: "BatchResults"},
        ("agent",),
        True,
        "BatchSendRequest",
        errors=(InvalidRequest,),
    ),
    Route(
        "POST",
        "/api/deliveries/acks",
        "ACK up to ATP_BATCH_MAX_MESSAGES (500) deliveries in one request. Each item is"
        " answered on its own, as POST /api/deliveries/{delivery_id}/acks would answer"
        " it with the item's idempotency_key (default: the Idempotency-Key header, a slash"
        " and the item's index); one item's error leaves the others alone.",
        {200: "AckBatchResults"},
        ("agent",),
        True,
        "AckBatchRequest",
        errors=(InvalidRequest,),
    ),
)

_ITEM_KEY = {"type": "string", "minLength": 1, "maxLength": 200}


def _results(answer: str) -> dict[str, Any]:
    """One result per item: its status, and the single route's answer or error."""
    item = object_of(
        {"status": {"type": "integer"}, "body": {"anyOf": [ref(answer), ref("Error")]}}
    )
    return object_of({"results": {"type": "array", "items": item}})


BATCH_SCHEMAS: dict[str, dict[str, Any]] = {
    "BatchSendRequest": {
        "type": "object",
        "required": ["messages"],
        "properties": {
            "messages": {
                "type": "array",
                "minItems": 1,
                "description": "At most ATP_BATCH_MAX_MESSAGES (500) sends.",
                "items": {
                    "type": "object",
                    "required": ["to", "payload"],
                    "properties": {
                        **SCHEMAS["SendRequest"]["properties"],
                        "idempotency_key": _ITEM_KEY,
                    },
                },
            }
        },
    },
    "AckBatchRequest": {
        "type": "object",
        "required": ["acks"],
        "properties": {
            "acks": {
                "type": "array",
                "minItems": 1,
                "description": "At most ATP_BATCH_MAX_MESSAGES (500) ACKs.",
                "items": {
                    "type": "object",
                    "required": ["delivery_id", "status"],
                    "properties": {
                        "delivery_id": {"type": "string", "minLength": 1},
                        **SCHEMAS["AckRequest"]["properties"],
                        "idempotency_key": _ITEM_KEY,
                    },
                },
            }
        },
    },
    "AckBatchResults": _results("Ack"),
    "BatchResults": _results("MessageStatus"),
}
