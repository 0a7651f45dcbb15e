"""The HTTP contract as types and pure checks: A2A validation and the response shapes."""

from atp.wire._a2a import (
    A2A_CONTENT_TYPE,
    A2A_VERSION,
    MAX_PAYLOAD_BYTES,
    check_payload,
    payload_size,
    validate_a2a_message,
)
from atp.wire._bodies import (
    AccountBody,
    AckBody,
    AgentBody,
    LeaseBody,
    SenderPolicyBody,
    parse_body,
)
from atp.wire._render import (
    SAFE_ERRORS,
    ack_document,
    agent_document,
    claim_document,
    iso,
    message_envelope,
    message_status,
    sender_policy_document,
    viewer_document,
)

__all__ = [
    "A2A_CONTENT_TYPE",
    "A2A_VERSION",
    "MAX_PAYLOAD_BYTES",
    "SAFE_ERRORS",
    "AccountBody",
    "AckBody",
    "AgentBody",
    "LeaseBody",
    "SenderPolicyBody",
    "ack_document",
    "agent_document",
    "check_payload",
    "claim_document",
    "iso",
    "message_envelope",
    "message_status",
    "parse_body",
    "payload_size",
    "sender_policy_document",
    "validate_a2a_message",
    "viewer_document",
]
