"""AMTP v1.0, the Agent Message Transfer Protocol: its messages, addresses and errors,
as the carrier's ``/v1`` gateway speaks them (``atp.api.amtp``). Pure: no I/O."""

from atp.amtp._errors import (
    AgentUnknown,
    AmtpError,
    AuthenticationFailed,
    CoordinationNotServed,
    InvalidMessageFormat,
    InvalidRecipient,
    MessageNotFound,
    MessageTooLarge,
    UnsupportedVersion,
)
from atp.amtp._message import (
    AMTP_VERSION,
    MAX_RECIPIENTS,
    Address,
    AmtpMessage,
    new_message_id,
    parse_address,
    parse_message,
    unwrap,
    utc_timestamp,
    wrap,
)
from atp.amtp._status import message_status, recipient_status

__all__ = [
    "AMTP_VERSION",
    "MAX_RECIPIENTS",
    "Address",
    "AgentUnknown",
    "AmtpError",
    "AmtpMessage",
    "AuthenticationFailed",
    "CoordinationNotServed",
    "InvalidMessageFormat",
    "InvalidRecipient",
    "MessageNotFound",
    "MessageTooLarge",
    "UnsupportedVersion",
    "message_status",
    "new_message_id",
    "parse_address",
    "parse_message",
    "recipient_status",
    "unwrap",
    "utc_timestamp",
    "wrap",
]
