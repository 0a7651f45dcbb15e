"""AMTP v1.0, the Agent Message Transfer Protocol: its messages, addresses and errors,
as the carrier's ``/v1`` gateway speaks them (``atp.api.amtp``). Pure: no I/O."""

from atp.amtp._coordination import (
    Condition,
    Coordination,
    InvalidCoordination,
    parse_coordination,
)
from atp.amtp._discovery import GatewayRecord, parse_txt, txt_value
from atp.amtp._errors import (
    AgentUnknown,
    AmtpError,
    AuthenticationFailed,
    InvalidMessageFormat,
    InvalidRecipient,
    MessageNotFound,
    MessageTooLarge,
    UnsupportedVersion,
)
from atp.amtp._message import (
    A2A_PAYLOAD,
    AMTP_VERSION,
    MAX_RECIPIENTS,
    Address,
    AmtpMessage,
    canonical_address,
    carries_a2a,
    new_message_id,
    parse_address,
    parse_message,
    unwrap,
    utc_timestamp,
    wrap,
    wrap_document,
)
from atp.amtp._notices import notice_body
from atp.amtp._relaying import failure_report, relay_message
from atp.amtp._schemas import MAX_ERRORS, InvalidSchema, check_definition, payload_errors
from atp.amtp._status import local_failure, message_status, recipient_status, relayed_status

__all__ = [
    "A2A_PAYLOAD",
    "AMTP_VERSION",
    "MAX_ERRORS",
    "MAX_RECIPIENTS",
    "Address",
    "AgentUnknown",
    "AmtpError",
    "AmtpMessage",
    "AuthenticationFailed",
    "Condition",
    "Coordination",
    "GatewayRecord",
    "InvalidCoordination",
    "InvalidMessageFormat",
    "InvalidRecipient",
    "InvalidSchema",
    "MessageNotFound",
    "MessageTooLarge",
    "UnsupportedVersion",
    "canonical_address",
    "carries_a2a",
    "check_definition",
    "failure_report",
    "local_failure",
    "message_status",
    "new_message_id",
    "notice_body",
    "parse_address",
    "parse_coordination",
    "parse_message",
    "parse_txt",
    "payload_errors",
    "recipient_status",
    "relay_message",
    "relayed_status",
    "txt_value",
    "unwrap",
    "utc_timestamp",
    "wrap",
    "wrap_document",
]
