"""TaskReceipts: where a sender wants to hear of its message's task, and what it was told.

An A2A client that sent a message (a task) may ask for a push on each change of the
task's state: a push-notification config, in A2A's words, and a delivery receipt in
the carrier's. The configs of one message and the receipts sent to each are one
aggregate, apart from the message: the message belongs to its recipient's mailbox,
its receipts to the sender, and neither writer waits for the other.

A receipt is owed to a config for each change of the task's state at a message
version after the config was set (``after_version``) and after the last one recorded
for it; receipts go out in that order, one at a time per config. Recording a receipt
(delivered, or abandoned after its attempts) moves the config on. The state changes
themselves are read from the message's history (``atp.wire.state_changes``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal, TypedDict
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from atp.domain._ids import aggregate_id

__all__ = ["PushConfig", "ReceiptResult", "TaskReceipts"]

ReceiptResult = Literal["delivered", "abandoned"]


class PushConfig(TypedDict):
    """One config of a task: where its receipts go, and how far they have gone."""

    url: str
    sealed_token: str | None
    scheme: str | None  # the Authorization header's scheme (IANA), if one is sent
    sealed_credentials: str | None
    after_version: int  # receipts for the message's state changes after this version
    sent_version: int  # the message version of the last receipt recorded (0: none)


class TaskReceipts(Aggregate):
    """One message's push-notification configs and the receipts recorded for them."""

    class Started(Aggregate.Created):
        message_id: str
        sender_agent_id: str
        sender_account_id: str
        recipient_agent_id: str
        at: datetime

    class ConfigSet(Aggregate.Event):
        """A config was created, or replaced (same id): receipts for changes from now."""

        config_id: str
        url: str
        sealed_token: str | None
        scheme: str | None
        sealed_credentials: str | None
        after_version: int
        task_ended: bool  # when set: nothing is owed (the sweep need not follow it)
        at: datetime

    class ConfigDeleted(Aggregate.Event):
        """The sender deleted the config, or its receiver answered 410 Gone."""

        config_id: str
        reason: Literal["deleted", "gone"]
        at: datetime

    class ReceiptRecorded(Aggregate.Event):
        """A receipt's end: delivered (a 2xx answer), or abandoned after its attempts."""

        config_id: str
        version: int  # the message version whose state it told
        state: str  # the A2A task state it told
        final: bool  # the state is terminal: nothing more is owed after it
        result: ReceiptResult
        attempts: int
        response_status: int | None
        error: str | None
        at: datetime

    @staticmethod
    def create_id(message_id: str) -> UUID:
        return aggregate_id(f"receipts:{message_id}")

    @event(Started)
    def __init__(
        self,
        message_id: str,
        sender_agent_id: str,
        sender_account_id: str,
        recipient_agent_id: str,
        at: datetime,
    ) -> None:
        self.message_id = message_id
        self.sender_agent_id = sender_agent_id
        self.sender_account_id = sender_account_id
        self.recipient_agent_id = recipient_agent_id
        self.configs: dict[str, PushConfig] = {}

    @event(ConfigSet)
    def set_config(
        self,
        config_id: str,
        url: str,
        sealed_token: str | None,
        scheme: str | None,
        sealed_credentials: str | None,
        after_version: int,
        task_ended: bool,
        at: datetime,
    ) -> None:
        self.configs[config_id] = {
            "url": url,
            "sealed_token": sealed_token,
            "scheme": scheme,
            "sealed_credentials": sealed_credentials,
            "after_version": after_version,
            "sent_version": 0,
        }

    def delete_config(
        self, config_id: str, reason: Literal["deleted", "gone"], at: datetime
    ) -> bool:
        """Delete a config; False, and nothing recorded, if there is none by that id."""
        if config_id not in self.configs:
            return False
        self._config_deleted(config_id, reason, at)
        return True

    @event(ConfigDeleted)
    def _config_deleted(self, config_id: str, reason: str, at: datetime) -> None:
        del self.configs[config_id]

    def record(
        self,
        config_id: str,
        version: int,
        state: str,
        final: bool,
        result: ReceiptResult,
        attempts: int,
        response_status: int | None,
        error: str | None,
        at: datetime,
    ) -> bool:
        """Record a receipt's end; False, and nothing recorded, if its config is gone
        or a receipt at or after ``version`` was recorded for it (a courier that lost
        its place after a restart)."""
        config = self.configs.get(config_id)
        if config is None or version <= config["sent_version"]:
            return False
        self._receipt_recorded(
            config_id, version, state, final, result, attempts, response_status, error, at
        )
        return True

    @event(ReceiptRecorded)
    def _receipt_recorded(
        self,
        config_id: str,
        version: int,
        state: str,
        final: bool,
        result: str,
        attempts: int,
        response_status: int | None,
        error: str | None,
        at: datetime,
    ) -> None:
        self.configs[config_id]["sent_version"] = version

    def position(self, config_id: str) -> int:
        """The message version after which receipts are owed to ``config_id``."""
        config = self.configs[config_id]
        return max(config["after_version"], config["sent_version"])
