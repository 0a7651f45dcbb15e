"""The commands of a task's receipts actor: its push-notification configs, and the
receipts the courier reports."""

from __future__ import annotations

from typing import Literal, final

import attrs

from atp.domain import ReceiptResult

__all__ = ["DeletePushConfig", "ReceiptCommand", "RecordReceipt", "SetPushConfig"]


@final
@attrs.frozen
class SetPushConfig:
    """Create or replace one config of a task (the sender asks; the edge checked that
    the task is the sender's, and the URL). The actor seals the secrets."""

    task_id: str  # the message id
    sender_agent_id: str
    sender_account_id: str
    recipient_agent_id: str
    config_id: str
    url: str
    token: str | None = attrs.field(repr=False)
    scheme: str | None
    credentials: str | None = attrs.field(repr=False)
    after_version: int  # the message's version when asked: receipts for later changes
    task_ended: bool  # the task had ended by then


@final
@attrs.frozen
class DeletePushConfig:
    task_id: str
    config_id: str
    reason: Literal["deleted", "gone"] = "deleted"  # gone: its receiver answered 410


@final
@attrs.frozen
class RecordReceipt:
    """How a receipt ended (the courier reports)."""

    task_id: str
    config_id: str
    version: int
    state: str
    final: bool
    result: ReceiptResult
    attempts: int
    response_status: int | None
    error: str | None


ReceiptCommand = SetPushConfig | DeletePushConfig | RecordReceipt
