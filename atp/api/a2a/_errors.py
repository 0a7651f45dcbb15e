"""A2A's errors, and how each binding writes them (A2A 1.0 §5.4, §9.5, §11.6).

The A2A routes answer in A2A's shapes, never the contract's envelope: JSON-RPC as an
``error`` member (HTTP 200: a JSON-RPC client reads any other status as a transport
failure), HTTP+JSON as a ``google.rpc.Status`` body whose ``ErrorInfo`` names the
error. A carrier error met on the way (``AtpError``) is translated to the A2A error
that says the same thing; its message stays the carrier's, so no payload or secret
reaches the answer.
"""

from __future__ import annotations

from typing import Any, ClassVar

from atp.errors import (
    AtpError,
    IdempotencyConflict,
    IdempotencyInProgress,
    MessageNotCancelable,
    NotFound,
    RecipientNotFound,
    StoreUnavailable,
    Unauthorized,
)

__all__ = [
    "A2AError",
    "InvalidParams",
    "InvalidRequest",
    "MethodNotFound",
    "ParseError",
    "TaskNotCancelable",
    "TaskNotFound",
    "Unauthenticated",
    "UnknownTenant",
    "UnsupportedOperation",
    "VersionNotSupported",
    "from_carrier",
    "jsonrpc_error",
    "rest_error",
]

_DOMAIN = "a2a-protocol.org"


class A2AError(Exception):
    """One of A2A's errors: its JSON-RPC code, HTTP status and gRPC status name."""

    code: ClassVar[int] = -32603
    http_status: ClassVar[int] = 500
    status: ClassVar[str] = "INTERNAL"
    reason: ClassVar[str] = "INTERNAL_ERROR"
    message: ClassVar[str] = "Internal error"

    def __init__(self, detail: str | None = None, **metadata: str) -> None:
        super().__init__(detail or self.message)
        self.detail = detail or self.message
        self.metadata = metadata

    def details(self) -> list[dict[str, Any]]:
        return [
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": self.reason,
                "domain": _DOMAIN,
                "metadata": self.metadata,
            }
        ]


class ParseError(A2AError):
    code, http_status, status, reason = -32700, 400, "INVALID_ARGUMENT", "PARSE_ERROR"
    message = "Invalid JSON"


class InvalidRequest(A2AError):
    code, http_status, status, reason = -32600, 400, "INVALID_ARGUMENT", "INVALID_REQUEST"
    message = "Invalid JSON-RPC request"


class MethodNotFound(A2AError):
    code, http_status, status, reason = -32601, 404, "NOT_FOUND", "METHOD_NOT_FOUND"
    message = "Method not found"


class InvalidParams(A2AError):
    code, http_status, status, reason = -32602, 400, "INVALID_ARGUMENT", "INVALID_PARAMS"
    message = "Invalid parameters"


class UnknownTenant(InvalidParams):
    """The tenant names no active agent (answered 404 by the HTTP+JSON binding)."""

    http_status, status, reason = 404, "NOT_FOUND", "TENANT_NOT_FOUND"
    message = "The tenant is not an active agent of this carrier"


class TaskNotFound(A2AError):
    code, http_status, status, reason = -32001, 404, "NOT_FOUND", "TASK_NOT_FOUND"
    message = "Task not found"


class TaskNotCancelable(A2AError):
    code, http_status, status, reason = -32002, 400, "FAILED_PRECONDITION", "TASK_NOT_CANCELABLE"
    message = "Task cannot be canceled"


class UnsupportedOperation(A2AError):
    code, http_status, status = -32004, 400, "FAILED_PRECONDITION"
    reason = "UNSUPPORTED_OPERATION"
    message = "This operation is not supported"


class VersionNotSupported(A2AError):
    code, http_status, status = -32009, 400, "FAILED_PRECONDITION"
    reason = "VERSION_NOT_SUPPORTED"
    message = "This A2A version is not supported"


class Unauthenticated(A2AError):
    """No valid agent key: answered 401 on both bindings, before any method runs."""

    code, http_status, status, reason = -32603, 401, "UNAUTHENTICATED", "UNAUTHENTICATED"
    message = "An ATP agent key is required (Authorization: Bearer agk_...)"


class _Unavailable(A2AError):
    code, http_status, status, reason = -32603, 503, "UNAVAILABLE", "UNAVAILABLE"
    message = "The carrier's store is unavailable; try again"


def from_carrier(error: AtpError) -> A2AError:
    """The A2A error that says what ``error`` says (its message is the carrier's)."""
    if isinstance(error, Unauthorized):
        return Unauthenticated()
    if isinstance(error, StoreUnavailable):
        return _Unavailable()
    if isinstance(error, NotFound):
        return TaskNotFound()
    if isinstance(error, IdempotencyConflict):
        return InvalidParams("messageId was already used for a different message")
    if isinstance(error, IdempotencyInProgress):
        return InvalidParams("a message with this messageId is being sent")
    if isinstance(error, RecipientNotFound):
        return UnknownTenant()
    if isinstance(error, MessageNotCancelable):
        return TaskNotCancelable("the recipient was already handed it, or answered")
    if 400 <= error.status < 500:
        return InvalidParams(error.message, carrierCode=error.code)
    return A2AError()


def jsonrpc_error(request_id: Any, error: A2AError) -> dict[str, Any]:
    """A JSON-RPC 2.0 error response."""
    return {
        "jsonrpc": "2.0",
        "id": request_id,
        "error": {"code": error.code, "message": error.detail, "data": error.details()},
    }


def rest_error(error: A2AError) -> dict[str, Any]:
    """An HTTP+JSON error body (``google.rpc.Status``)."""
    return {
        "error": {
            "code": error.http_status,
            "status": error.status,
            "message": error.detail,
            "details": error.details(),
        }
    }
