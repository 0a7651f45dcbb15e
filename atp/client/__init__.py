"""The Python client: talk to a carrier in a few lines, and verify its webhooks.

    from atp.client import Client

    with Client("http://127.0.0.1:4000") as atp:
        account = atp.signup("Dev Network")
        alpha = atp.create_agent("alpha", token=account.api_key)
        beta = atp.create_agent("beta", token=account.api_key)
        atp.send(beta.address, {"messageId": "m1", "role": "ROLE_USER",
                                "parts": [{"text": "hello"}]}, token=alpha.api_key)
        claim = atp.claim(wait_seconds=10, token=beta.api_key)
        atp.ack(claim.delivery_id, "completed", token=beta.api_key)

``AsyncClient`` has the same methods, awaited, under Trio or asyncio. There is one
method per route of ``docs/api.md``. Errors are raised as the
classes of ``atp.errors`` (``RecipientNotFound``, ``LeaseExpired``, ...). A call made
with ``calls`` (``client.call(calls.send(...))``) keeps its idempotency key: sending
the same ``Call`` again is answered from the carrier's record, never acted on twice.
``Client.follow_session`` yields a session's turns and status changes as they happen.
``Client.replay_message`` and ``Client.start_replay`` hand a recipient's messages out
again (``Replay``; ``Client.replay`` reads its progress).
An account's AMTP schema registry is reached with ``amtp_calls``
(``client.call(amtp_calls.schemas(account_key))``). Receivers check pushes with
``verify_webhook``.
"""

from atp.client import _amtp_calls as amtp_calls
from atp.client import _calls as calls
from atp.client._amtp_calls import SchemaCheck, SchemaEntry
from atp.client._async import AsyncClient
from atp.client._audit import AuditEvent, AuditorKey, EventPage, HistoryEntry, MessageHistory
from atp.client._batches import BatchResult
from atp.client._call import Call
from atp.client._events import FINAL_SESSION_STATUSES, SessionEvent
from atp.client._identity import (
    AccountCreated,
    Agent,
    AgentCreated,
    AgentKey,
    SenderPolicy,
    SigningKey,
    SigningKeys,
    WebhookEndpoint,
)
from atp.client._receiver import SignatureError, verify_webhook
from atp.client._replays import Replay, ReplayFilter
from atp.client._results import (
    Ack,
    AmtpSent,
    Answer,
    Claim,
    DeadLetter,
    DeadLetterPage,
    Health,
    Message,
    MessageStatus,
    Readiness,
    Session,
    SessionPage,
    SessionView,
    Workflow,
)
from atp.client._sync import Client

__all__ = [
    "FINAL_SESSION_STATUSES",
    "AccountCreated",
    "Ack",
    "Agent",
    "AgentCreated",
    "AgentKey",
    "AmtpSent",
    "Answer",
    "AsyncClient",
    "AuditEvent",
    "AuditorKey",
    "BatchResult",
    "Call",
    "Claim",
    "Client",
    "DeadLetter",
    "DeadLetterPage",
    "EventPage",
    "Health",
    "HistoryEntry",
    "Message",
    "MessageHistory",
    "MessageStatus",
    "Readiness",
    "Replay",
    "ReplayFilter",
    "SchemaCheck",
    "SchemaEntry",
    "SenderPolicy",
    "Session",
    "SessionEvent",
    "SessionPage",
    "SessionView",
    "SignatureError",
    "SigningKey",
    "SigningKeys",
    "WebhookEndpoint",
    "Workflow",
    "amtp_calls",
    "calls",
    "verify_webhook",
]
