"""AMTP's errors (AMTP v1.0 §13): a code, a status and a message for each.

The wire form is ``{"error": {"code", "message", "details"?, "timestamp",
"request_id"}}``; ``atp.api.amtp`` writes it, with the request's id and time.
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = [
    "AgentUnknown",
    "AmtpError",
    "AuthenticationFailed",
    "InvalidMessageFormat",
    "InvalidRecipient",
    "MessageNotFound",
    "MessageTooLarge",
    "UnsupportedVersion",
]


class AmtpError(Exception):
    """An AMTP answer other than success; nothing was changed."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "TEMPORARY_FAILURE"
    default: ClassVar[str] = "the gateway failed to handle the request"

    def __init__(self, message: str | None = None, **details: Any) -> None:
        super().__init__(message or self.default)
        self.message = message or self.default
        self.details = details

    def body(self, timestamp: str, request_id: str) -> dict[str, Any]:
        """The §13 error body."""
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            error["details"] = self.details
        return {"error": {**error, "timestamp": timestamp, "request_id": request_id}}


class InvalidMessageFormat(AmtpError):
    status, code, default = 400, "INVALID_MESSAGE_FORMAT", "the message is not valid AMTP"


class UnsupportedVersion(AmtpError):
    status, code, default = 400, "UNSUPPORTED_VERSION", "only AMTP version 1.0 is served"


class InvalidRecipient(AmtpError):
    status, code, default = 400, "INVALID_RECIPIENT", "a recipient is not an AMTP address"


class AuthenticationFailed(AmtpError):
    status, code, default = 401, "AUTHENTICATION_FAILED", "the request is not authenticated"


class AgentUnknown(AmtpError):
    status, code, default = 404, "AGENT_UNKNOWN", "no such agent at this gateway"


class MessageNotFound(AmtpError):
    status, code, default = 404, "MESSAGE_NOT_FOUND", "message not found"


class MessageTooLarge(AmtpError):
    status, code, default = 413, "MESSAGE_TOO_LARGE", "the message is too large"
