"""The domain: aggregates and their past-tense events. Pure and synchronous: no trio, no I/O.

Every state the API shows is a fold over these events (design rule 1).
"""

from atp.domain._account import Account
from atp.domain._agent import (
    ADDRESS_PREFIX,
    ENDPOINT_KINDS,
    Agent,
    SenderPolicy,
    SigningKey,
    Trust,
    WebhookEndpoint,
)
from atp.domain._amtp_webhooks import NOTICE_EVENTS, AmtpWebhook
from atp.domain._delivery import (
    Ack,
    AttemptResult,
    Delivery,
    ReplayAttempt,
    RetryPolicy,
    WebhookAttempt,
)
from atp.domain._envelopes import AmtpEnvelope, EnvelopeRecipient, NoticeResult
from atp.domain._idempotency import IdempotencyRecord
from atp.domain._ids import (
    AGENT_ID_PREFIX,
    aggregate_id,
    derived_id,
    new_id,
    new_token,
    remote_account_id,
    remote_agent_id,
    token_hash,
)
from atp.domain._message import Message
from atp.domain._names import ORPHANED_AFTER, AgentName, check_name
from atp.domain._receipts import PushConfig, ReceiptResult, TaskReceipts
from atp.domain._relays import AmtpRelay, RelayState, next_delay, relay_id
from atp.domain._replay import ItemResult, Replay, ReplayState, ReplayTarget
from atp.domain._schemas import AmtpSchema, SchemaId, parse_schema_id, schema_matches
from atp.domain._session import STATUS_AFTER, Session, SessionStatus
from atp.domain._statuses import (
    ACK_STATUSES,
    TERMINAL_ACK_STATUSES,
    AckStatus,
    CarrierStatus,
    DeliveryMode,
    DeliveryStatus,
)
from atp.domain._workflows import Participant, Workflow, WorkflowStatus

__all__ = [
    "ACK_STATUSES",
    "ADDRESS_PREFIX",
    "AGENT_ID_PREFIX",
    "ENDPOINT_KINDS",
    "NOTICE_EVENTS",
    "ORPHANED_AFTER",
    "STATUS_AFTER",
    "TERMINAL_ACK_STATUSES",
    "Account",
    "Ack",
    "AckStatus",
    "Agent",
    "AgentName",
    "AmtpEnvelope",
    "AmtpRelay",
    "AmtpSchema",
    "AmtpWebhook",
    "AttemptResult",
    "CarrierStatus",
    "Delivery",
    "DeliveryMode",
    "DeliveryStatus",
    "EnvelopeRecipient",
    "IdempotencyRecord",
    "ItemResult",
    "Message",
    "NoticeResult",
    "Participant",
    "PushConfig",
    "ReceiptResult",
    "RelayState",
    "Replay",
    "ReplayAttempt",
    "ReplayState",
    "ReplayTarget",
    "RetryPolicy",
    "SchemaId",
    "SenderPolicy",
    "Session",
    "SessionStatus",
    "SigningKey",
    "TaskReceipts",
    "Trust",
    "WebhookAttempt",
    "WebhookEndpoint",
    "Workflow",
    "WorkflowStatus",
    "aggregate_id",
    "check_name",
    "derived_id",
    "new_id",
    "new_token",
    "next_delay",
    "parse_schema_id",
    "relay_id",
    "remote_account_id",
    "remote_agent_id",
    "schema_matches",
    "token_hash",
]
