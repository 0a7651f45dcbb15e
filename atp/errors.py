"""Every error the carrier answers with, and the one place its wire form is defined.

The contract (``spec/wire-contract.md`` §1.0) fixes a code, a human message and a
status for each error; they live here on the class so the HTTP edge, the client
library and the tests read one table. Anything raised that is not an ``AtpError``
becomes ``UnexpectedError`` at the edge.

    AtpError                          500 unexpected_error
    ├── BadRequest                    400  invalid_request, idempotency_key_required
    ├── Unauthorized                  401  unauthorized
    ├── Forbidden                     403  account_key_required, agent_key_required
    ├── NotFound                      404  not_found
    ├── RequestTimedOut               408  request_timeout (a body too slow to arrive)
    ├── Conflict                      409  idempotency_*, lease_expired, replay_finished, ...
    ├── TooLarge                      413  payload_too_large, unexpected_error (body)
    ├── Unprocessable                 422  invalid_request, recipient_required, ...
    ├── RateLimited                   429  unknown_sender_rate_limited
    ├── StoreUnavailable              503  store_unavailable (with Retry-After)
    └── ServerBusy                    503  server_busy (at the connection limit)

    StoreSetupError                   not an answer: ``atp serve``/``migrate`` cannot start
    ProjectionStuck                   not an answer: the views cannot apply a stored event
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "AccountKeyRequired",
    "AckStatusRequired",
    "AgentKeyRequired",
    "AtpError",
    "BadRequest",
    "Conflict",
    "DeliveryInProgress",
    "DeliveryNotDelivered",
    "Forbidden",
    "IdempotencyConflict",
    "IdempotencyInProgress",
    "IdempotencyKeyRequired",
    "InvalidA2AMessage",
    "InvalidAccount",
    "InvalidAckStatus",
    "InvalidAckTransition",
    "InvalidLease",
    "InvalidRequest",
    "InvalidSenderPolicy",
    "InvalidSessionRecipient",
    "InvalidWebhookAuthentication",
    "InvalidWebhookUrl",
    "LeaseExpired",
    "MalformedRequest",
    "MessageExpired",
    "MessageIdTaken",
    "MessageNotCancelable",
    "MessageNotDelivered",
    "NameTaken",
    "NotAParticipant",
    "NotDeadLettered",
    "NotFound",
    "PayloadMustBeJson",
    "PayloadRequired",
    "PayloadTooLarge",
    "PlanLimitExceeded",
    "ProjectionStuck",
    "RateLimited",
    "RecipientNotFound",
    "RecipientRequired",
    "ReplayFinished",
    "RequestTimedOut",
    "RequestTooLarge",
    "SchemaExists",
    "ServerBusy",
    "SessionNotOpen",
    "StaleDeliveryClaim",
    "StoreSetupError",
    "StoreUnavailable",
    "TerminalAckStatus",
    "TooLarge",
    "Unauthorized",
    "UnexpectedError",
    "UnknownSenderRateLimited",
    "Unprocessable",
    "WebhookEndpointInactive",
    "error_for_code",
]


class AtpError(Exception):
    """Base of every carrier error; ``status``, ``code`` and ``message`` are its wire form."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "unexpected_error"
    message: ClassVar[str] = "An unexpected error occurred."

    def __init__(self, detail: str | None = None) -> None:
        # ``detail`` is for logs and tracebacks only; the wire always carries ``message``.
        super().__init__(detail or self.message)

    def envelope(self) -> dict[str, dict[str, str]]:
        """The contract's error body."""
        return {"error": {"code": self.code, "message": self.message}}


class UnexpectedError(AtpError):
    """Anything that escaped the error tree."""


class BadRequest(AtpError):
    status = 400


class MalformedRequest(BadRequest):
    code = "invalid_request"
    message = "The request is invalid."


class IdempotencyKeyRequired(BadRequest):
    code = "idempotency_key_required"
    message = "An Idempotency-Key header is required."


class Unauthorized(AtpError):
    status = 401
    code = "unauthorized"
    message = "Authentication is required."


class Forbidden(AtpError):
    status = 403


class AccountKeyRequired(Forbidden):
    code = "account_key_required"
    message = "An account API key is required for this operation."


class AgentKeyRequired(Forbidden):
    code = "agent_key_required"
    message = "An agent API key is required for this operation."


class NotAParticipant(Forbidden):
    code = "not_a_participant"
    message = "Only a participant the workflow awaits may answer it."


class NotFound(AtpError):
    status = 404
    code = "not_found"
    message = "The requested resource was not found."


class RequestTimedOut(AtpError):
    """A request body that did not arrive within ``Settings.body_timeout``. The reference
    has no code for it; the connection closes after the answer."""

    status = 408
    code = "request_timeout"
    message = "The request body was not received in time."


class Conflict(AtpError):
    status = 409


class IdempotencyConflict(Conflict):
    code = "idempotency_conflict"
    message = "The idempotency key was already used with a different request body."


class IdempotencyInProgress(Conflict):
    code = "idempotency_in_progress"
    message = "The idempotency key is already processing."


class LeaseExpired(Conflict):
    code = "lease_expired"
    message = "The delivery lease has expired."


class DeliveryNotDelivered(Conflict):
    code = "delivery_not_delivered"
    message = "The delivery has not been delivered by the carrier."


class DeliveryInProgress(Conflict):
    code = "delivery_in_progress"
    message = "The delivery is already in progress."


class InvalidAckTransition(Conflict):
    code = "invalid_ack_transition"
    message = "The ACK transition is invalid."


class TerminalAckStatus(Conflict):
    code = "terminal_ack_status"
    message = "The message already has a terminal ACK status."


class MessageExpired(Conflict):
    code = "message_expired"
    message = "The message has expired."


class NameTaken(Conflict):
    code = "name_taken"
    message = "Another agent holds that name."


class MessageIdTaken(Conflict):
    code = "message_id_taken"
    message = "Another AMTP message was sent with this message_id."


class SchemaExists(Conflict):
    code = "schema_exists"
    message = "A schema is registered under that id; replace it with force or PUT."


class MessageNotCancelable(Conflict):
    code = "message_not_cancelable"
    message = "The message was already handed out or answered; it cannot be canceled."


class NotDeadLettered(Conflict):
    code = "not_dead_lettered"
    message = "The message is not a dead letter."


class StaleDeliveryClaim(Conflict):
    """An attempt finished under a claim that is no longer the delivery's (internal)."""

    code = "stale_delivery_claim"
    message = "The delivery claim is stale."


class MessageNotDelivered(Conflict):
    code = "message_not_delivered"
    message = "The message was never handed out: there is nothing to replay."


class ReplayFinished(Conflict):
    code = "replay_finished"
    message = "The replay has completed."


class WebhookEndpointInactive(Conflict):
    code = "webhook_endpoint_inactive"
    message = "The agent has no active webhook endpoint."


class SessionNotOpen(Conflict):
    code = "session_not_open"
    message = "The session is not open."


class TooLarge(AtpError):
    status = 413


class PayloadTooLarge(TooLarge):
    code = "payload_too_large"
    message = "The encoded JSON payload exceeds 64KB."


class RequestTooLarge(TooLarge):
    """A body over the limit. The reference has no code of its own for this 413 and
    renders it as ``unexpected_error`` (contract §1.0): the base class's code and text."""


class Unprocessable(AtpError):
    status = 422


class InvalidRequest(Unprocessable):
    code = "invalid_request"
    message = "The request is invalid."


class InvalidAccount(Unprocessable):
    code = "invalid_account"
    message = "The account request is invalid."


class RecipientRequired(Unprocessable):
    code = "recipient_required"
    message = "A recipient address is required."


class RecipientNotFound(Unprocessable):
    code = "recipient_not_found"
    message = "The recipient agent was not found."


class PayloadRequired(Unprocessable):
    code = "payload_required"
    message = "A payload field is required."


class PayloadMustBeJson(Unprocessable):
    code = "payload_must_be_json"
    message = "The payload must be valid JSON."


class InvalidA2AMessage(Unprocessable):
    code = "invalid_a2a_message"
    message = "The payload must be a valid A2A Message object."


class InvalidLease(Unprocessable):
    code = "invalid_lease"
    message = "The requested delivery lease is invalid."


class AckStatusRequired(Unprocessable):
    code = "ack_status_required"
    message = "An ACK status is required."


class InvalidAckStatus(Unprocessable):
    code = "invalid_ack_status"
    message = "The ACK status is invalid."


class InvalidSenderPolicy(Unprocessable):
    code = "invalid_sender_policy"
    message = "The sender policy request is invalid."


class InvalidSessionRecipient(Unprocessable):
    code = "invalid_session_recipient"
    message = "A session requires two distinct agent participants."


class InvalidWebhookUrl(Unprocessable):
    code = "invalid_webhook_url"
    message = "The webhook endpoint URL must be a public http or https URL."


class InvalidWebhookAuthentication(Unprocessable):
    code = "invalid_webhook_authentication"
    message = "The webhook authentication must be a scheme and credentials."


class PlanLimitExceeded(Unprocessable):
    code = "plan_limit_exceeded"
    message = "The account plan limit has been exceeded."


class RateLimited(AtpError):
    status = 429


class UnknownSenderRateLimited(RateLimited):
    code = "unknown_sender_rate_limited"
    message = "Unknown cross-account sender limit exceeded for this recipient."


class StoreUnavailable(AtpError):
    """The store did not answer (it is away, or this request's call to it failed).

    A read changed nothing; a write may have been committed, so the client retries it
    with the same idempotency key, which lands it exactly once. The code is not in the
    reference's table: its message is the contract's generic one (docs/api.md, why).
    """

    status = 503
    code = "store_unavailable"
    message = "The request could not be completed."
    retry_after: ClassVar[int] = 2  # seconds: about one probe of the store (atp.ledger)


class StoreSetupError(Exception):
    """The store cannot be used as configured (unreachable, wrong database, not migrated):
    one line for an operator, what is wrong and what to do, never a password or its URL."""


class ProjectionStuck(Exception):
    """The views cannot apply one event of the ledger (it cannot be decoded, or the
    views' store refuses what it makes). The ledger keeps the event; the views stop
    before it until it applies. Names the event, never its data.

    Args:
        position: the event's notification id.
        topic: its stored topic (``module:Class``).
        aggregate_id: its aggregate's ledger id.
        reason: what failed, as an error class name (a driver's text could quote data).
    """

    def __init__(self, position: int, topic: str, aggregate_id: str, reason: str) -> None:
        self.position = position
        self.topic = topic
        self.aggregate_id = aggregate_id
        self.reason = reason
        super().__init__(
            f"the views cannot apply notification {position}"
            f" (topic {topic}, aggregate {aggregate_id}): {reason}"
        )


class ServerBusy(AtpError):
    """A connection over ``Settings.max_connections``: answered at once and closed, before
    its request is read (``atp/http/_gate.py``). Clients retry it like any 5xx."""

    status = 503
    code = "server_busy"
    message = "The server has too many open connections; retry shortly."


def _concrete(cls: type[AtpError]) -> list[type[AtpError]]:
    found = [cls] if "code" in cls.__dict__ else []
    for sub in cls.__subclasses__():
        found.extend(_concrete(sub))
    return found


# MalformedRequest (400) shares "invalid_request" with InvalidRequest (422); clients get the 422.
_BY_CODE: dict[str, type[AtpError]] = {
    cls.code: cls for cls in _concrete(AtpError) if cls is not MalformedRequest
}


def error_for_code(code: str) -> type[AtpError]:
    """The error class for a wire code (used by clients to raise typed errors)."""
    return _BY_CODE.get(code, AtpError)
