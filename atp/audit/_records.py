"""Audit records: what each stored event of the ledger says, in a form anyone can hash.

A record is the JSON object ``{"v": 1, "index", "type", "at", "aggregate": {"type",
"id"}, "version", "actor", "data"}``. Its bytes are its RFC 8785 (JCS) canonical form,
and its leaf in the Merkle log is SHA-256(0x00 ‖ those bytes). The format is frozen:
``TYPES`` maps every event topic to its record type once and for all (a golden file
holds the table), and a change of shape is a new ``v``.

``data`` keeps the facts and never a secret or a payload: tokens appear as their key
ids, sealed secrets not at all, a webhook URL (it may carry credentials) as its host
and its SHA-256, and a message's or an ACK's payload as ``payload_sha256``, the hex
SHA-256 of its JCS form, so that erasing a payload later leaves every proof valid.

A record names its aggregate by wire id (``msg_…``) and the principal that caused the
event (``actor``), which most events do not carry: the :class:`Directory` remembers,
from the aggregates' first events, what the later ones need. Records are made in log
order, so a record only ever depends on the events before it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID

import attrs

from atp.audit._canonical import record_bytes
from atp.audit._directory import Directory, Entry
from atp.audit._merkle import leaf_hash
from atp.audit._record_data import CARRIER, DATA
from atp.wire import iso as _iso

__all__ = [
    "CARRIER",
    "FORMAT_VERSION",
    "TYPES",
    "Directory",
    "Entry",
    "Record",
    "first_entry",
    "make_record",
]

FORMAT_VERSION = 1

# Event topic -> record type. Frozen: a stored event keeps its record type forever.
TYPES: Mapping[str, str] = {
    "atp.domain._account:Account.Opened": "account.opened",
    "atp.domain._account:Account.AgentAdmitted": "account.agent_admitted",
    "atp.domain._account:Account.AuditorKeyIssued": "account.auditor_key_issued",
    "atp.domain._account:Account.PayloadRead": "account.payload_read",
    "atp.domain._agent:Agent.Registered": "agent.registered",
    "atp.domain._agent:Agent.KeyRotated": "agent.key_rotated",
    "atp.domain._agent:Agent.WebhookEndpointSet": "agent.webhook_endpoint_set",
    "atp.domain._agent:Agent.WebhookEndpointDisabled": "agent.webhook_endpoint_disabled",
    "atp.domain._agent:Agent.SigningKeyRotated": "agent.signing_key_rotated",
    "atp.domain._agent:Agent.SenderPolicySet": "agent.sender_policy_set",
    "atp.domain._agent:Agent.Deactivated": "agent.deactivated",
    "atp.domain._envelopes:AmtpEnvelope.Accepted": "amtp.message_accepted",
    "atp.domain._envelopes:AmtpEnvelope.NoticeRecorded": "amtp.notice_recorded",
    "atp.domain._envelopes:AmtpEnvelope.NoticesSettled": "amtp.notices_settled",
    "atp.domain._amtp_webhooks:AmtpWebhook.Registered": "amtp.webhook_registered",
    "atp.domain._amtp_webhooks:AmtpWebhook.Removed": "amtp.webhook_removed",
    "atp.domain._idempotency:IdempotencyRecord.Recorded": "idempotency.recorded",
    "atp.domain._relays:AmtpRelay.Started": "amtp.relay_started",
    "atp.domain._relays:AmtpRelay.AttemptRecorded": "amtp.relay_attempt_recorded",
    "atp.domain._relays:AmtpRelay.Delivered": "amtp.relay_delivered",
    "atp.domain._relays:AmtpRelay.Abandoned": "amtp.relay_abandoned",
    "atp.domain._message:Message.Sent": "message.sent",
    "atp.domain._message:Message.Rejected": "message.rejected",
    "atp.domain._message:Message.Expired": "message.expired",
    "atp.domain._message:Message.Canceled": "message.canceled",
    "atp.domain._message:Message.WebhookDeliveryScheduled": "delivery.webhook_scheduled",
    "atp.domain._message:Message.DeliveryLeased": "delivery.leased",
    "atp.domain._message:Message.LeaseExtended": "delivery.lease_extended",
    "atp.domain._message:Message.LeaseReleased": "delivery.lease_released",
    "atp.domain._message:Message.WebhookDeliveryClaimed": "webhook.attempt_started",
    "atp.domain._message:Message.WebhookAttemptRecorded": "webhook.attempt_recorded",
    "atp.domain._message:Message.WebhookDeliveryEnded": "delivery.dead_lettered",
    "atp.domain._message:Message.DeadLetterRedriven": "dead_letter.redriven",
    "atp.domain._message:Message.DeadLetterReleased": "dead_letter.released",
    "atp.domain._message:Message.AckRecorded": "ack.recorded",
    "atp.domain._message:Message.ReplayStarted": "replay.attempt_started",
    "atp.domain._message:Message.ReplayAttemptRecorded": "replay.attempt_recorded",
    "atp.domain._names:AgentName.Claimed": "name.claimed",
    "atp.domain._names:AgentName.Reclaimed": "name.reclaimed",
    "atp.domain._receipts:TaskReceipts.Started": "receipts.started",
    "atp.domain._receipts:TaskReceipts.ConfigSet": "receipts.config_set",
    "atp.domain._receipts:TaskReceipts.ConfigDeleted": "receipts.config_deleted",
    "atp.domain._receipts:TaskReceipts.ReceiptRecorded": "receipts.receipt_recorded",
    "atp.domain._schemas:AmtpSchema.Registered": "amtp.schema_registered",
    "atp.domain._schemas:AmtpSchema.Replaced": "amtp.schema_replaced",
    "atp.domain._schemas:AmtpSchema.Deleted": "amtp.schema_deleted",
    "atp.domain._workflows:Workflow.Started": "amtp.workflow_started",
    "atp.domain._workflows:Workflow.ResponseRecorded": "amtp.workflow_response_recorded",
    "atp.domain._workflows:Workflow.StepDispatched": "amtp.workflow_step_dispatched",
    "atp.domain._workflows:Workflow.Ended": "amtp.workflow_ended",
    "atp.domain._replay:Replay.Started": "replay.started",
    "atp.domain._replay:Replay.ItemRecorded": "replay.item_recorded",
    "atp.domain._replay:Replay.Cancelled": "replay.cancelled",
    "atp.domain._replay:Replay.Completed": "replay.completed",
    "atp.domain._session:Session.Requested": "session.requested",
    "atp.domain._session:Session.TurnAppended": "session.turn_appended",
    "atp.domain._session:Session.Accepted": "session.accepted",
    "atp.domain._session:Session.Rejected": "session.rejected",
    "atp.domain._session:Session.Failed": "session.failed",
    "atp.domain._session:Session.Closed": "session.closed",
}


@attrs.frozen
class Record:
    """One audit record: its object, its canonical bytes, its leaf hash, and what the
    event store's index columns need (who may see it, what it concerns)."""

    index: int
    type: str
    body: dict[str, Any]
    canonical: bytes
    leaf_hash: bytes
    entry: Entry
    message_id: str | None
    session_id: str | None


assert set(DATA) == set(TYPES.values())


def first_entry(topic: str, e: Any) -> Entry:
    """The directory entry an aggregate's first event (of ``topic``) makes."""
    record_type = TYPES[topic]
    if record_type == "account.opened":
        return Entry("account", e.account_id, (), (e.account_id,))
    if record_type == "agent.registered":
        return Entry("agent", e.agent_id, (e.agent_id,), (e.account_id,))
    if record_type == "message.sent":
        accounts = tuple(dict.fromkeys((e.sender_account_id, e.recipient_account_id)))
        agents = (e.sender_agent_id, e.recipient_agent_id)
        return Entry("message", e.message_id, agents, accounts, session_id=e.session_id)
    if record_type == "session.requested":
        accounts = tuple(dict.fromkeys((e.initiator_account_id, e.recipient_account_id)))
        agents = (e.initiator_agent_id, e.recipient_agent_id)
        return Entry("session", e.session_id, agents, accounts, e.session_id, e.opening_message_id)
    if record_type == "name.claimed":  # seen by the account that claimed it
        return Entry("agent_name", e.name, (e.agent_id,), (e.account_id,))
    if record_type == "receipts.started":  # the sender's, as its push configs are
        return Entry("task_receipts", e.message_id, (e.sender_agent_id,), (e.sender_account_id,))
    if record_type == "amtp.message_accepted":  # the sender's and its recipients'
        local = [r for r in e.recipients if r["agent_id"]]
        parties = dict.fromkeys((e.sender_agent_id, *(r["agent_id"] for r in local)))
        owners = dict.fromkeys((e.sender_account_id, *(r["account_id"] for r in local)))
        return Entry("amtp_message", e.message_id, tuple(parties), tuple(owners))
    if record_type == "amtp.relay_started":  # the sender's
        return Entry("amtp_relay", e.relay_id, (e.sender_agent_id,), (e.sender_account_id,))
    if record_type == "amtp.webhook_registered":  # its owner's: an agent, or the account
        owner: tuple[str, ...] = () if e.agent_id is None else (e.agent_id,)
        return Entry("amtp_webhook", e.webhook_id, owner, (e.account_id,))
    if record_type == "amtp.schema_registered":  # the account's registry
        return Entry("amtp_schema", e.schema_id, (), (e.account_id,))
    if record_type == "amtp.workflow_started":  # the initiator's
        initiator = (e.initiator_agent_id,), (e.initiator_account_id,)
        return Entry("amtp_workflow", e.workflow_id, *initiator)
    if record_type == "replay.started":
        return Entry("replay", e.replay_id, (e.agent_id,), (e.account_id,))
    if record_type == "idempotency.recorded":
        account, kind, principal = e.scope.split("|", 3)[:3]
        principal_agents: tuple[str, ...] = (principal,) if kind == "agent" else ()
        return Entry("idempotency", str(e.originator_id), principal_agents, (account,))
    raise ValueError(f"{record_type} does not start an aggregate")


def make_record(index: int, topic: str, event: Any, directory: Directory) -> Record:
    """The audit record of ``event``, the ``index``-th event of the log.

    Raises:
        KeyError: an event topic with no record type, or an event whose aggregate the
            directory does not know (its first event was never recorded).
    """
    record_type = TYPES[topic]
    aggregate_id: UUID = event.originator_id
    if event.originator_version == 1:
        entry = first_entry(topic, event)
        directory.add(aggregate_id, entry)
    else:
        found = directory.get(aggregate_id)
        if found is None:
            raise KeyError(f"the first event of aggregate {aggregate_id} is not in the log")
        entry = found
    actor, data = DATA[record_type](event, entry, directory)
    at = getattr(event, "at", None) or event.timestamp
    body = {
        "v": FORMAT_VERSION,
        "index": index,
        "type": record_type,
        "at": _iso(at),
        "aggregate": {"type": entry.kind, "id": entry.wire_id},
        "version": event.originator_version,
        "actor": actor,
        "data": data,
    }
    encoded = record_bytes(body)
    message_id = entry.wire_id if entry.kind == "message" else None
    return Record(
        index, record_type, body, encoded, leaf_hash(encoded), entry, message_id, entry.session_id
    )
