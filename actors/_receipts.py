"""ReceiptsActor: one task's push-notification configs and receipts, their only writer.

The sender creates and deletes configs through it (A2A ``Create/Delete
TaskPushNotificationConfig``); the ``ReceiptCourier`` sends the receipts and reports
each one's end here, which moves its config on. A config set or replaced asks the
courier to follow the task (``Receipts.watch``); after a restart the sweep does.
"""

from __future__ import annotations

from typing import assert_never

from atp.actors._actor import Actor
from atp.actors._context import ActorContext
from atp.actors.commands import Reply
from atp.actors.receipt_commands import (
    DeletePushConfig,
    ReceiptCommand,
    RecordReceipt,
    SetPushConfig,
)
from atp.domain import TaskReceipts
from atp.errors import InvalidRequest

__all__ = ["MAX_CONFIGS", "ReceiptsActor"]

MAX_CONFIGS = 10  # per task: each is sent every receipt


class ReceiptsActor(Actor[ReceiptCommand]):
    """One task's receipts."""

    # Configs change rarely and a receipt's report comes seconds apart at most: one
    # ledger read rehydrates it, so it does not wait around.
    max_idle = 2.0

    kind = "receipts"

    def __init__(self, task_id: str, context: ActorContext) -> None:
        super().__init__(task_id, context)
        self.task_id = task_id
        self.receipts: TaskReceipts | None = None
        self._watch = False

    async def rehydrate(self) -> None:
        ledger_id = TaskReceipts.create_id(self.task_id)
        self.receipts = await self.context.ledger.get(TaskReceipts, ledger_id)

    async def handle(self, command: ReceiptCommand) -> Reply:
        now = self.context.now()
        match command:
            case SetPushConfig():
                if self._unchanged(command):  # a send replayed: its receipts go on
                    return Reply(200, {})
                receipts = self.receipts
                configs = {} if receipts is None else receipts.configs
                if command.config_id not in configs and len(configs) >= MAX_CONFIGS:
                    raise InvalidRequest(f"a task has at most {MAX_CONFIGS} push configs")
                if receipts is None:
                    receipts = self.receipts = TaskReceipts(
                        message_id=self.task_id,
                        sender_agent_id=command.sender_agent_id,
                        sender_account_id=command.sender_account_id,
                        recipient_agent_id=command.recipient_agent_id,
                        at=now,
                    )
                seal = self.context.sealer.seal
                token, credentials = command.token, command.credentials
                receipts.set_config(
                    command.config_id,
                    command.url,
                    None if token is None else seal(token.encode()),
                    command.scheme,
                    None if credentials is None else seal(credentials.encode()),
                    command.after_version,
                    command.task_ended,
                    now,
                )
                self._watch = True
            case DeletePushConfig():
                if self.receipts is None or not self.receipts.delete_config(
                    command.config_id, command.reason, now
                ):
                    return Reply(200, {})  # A2A: deleting none is no error
            case RecordReceipt():
                receipts = self.receipts
                if receipts is None or not receipts.record(
                    command.config_id,
                    command.version,
                    command.state,
                    command.final,
                    command.result,
                    command.attempts,
                    command.response_status,
                    command.error,
                    now,
                ):
                    return Reply(200, {})  # recorded before, or its config deleted
            case _:
                assert_never(command)
        assert self.receipts is not None
        self.stage(self.receipts)
        return Reply(200, {})

    def _unchanged(self, command: SetPushConfig) -> bool:
        """Whether the config is set already, as the command would set it."""
        config = None if self.receipts is None else self.receipts.configs.get(command.config_id)
        if config is None:
            return False
        unseal = self.context.sealer.unseal

        def plain(sealed: str | None) -> str | None:
            return None if sealed is None else unseal(sealed).decode()

        return (
            config["url"],
            config["scheme"],
            config["after_version"],
            plain(config["sealed_token"]),
            plain(config["sealed_credentials"]),
        ) == (
            command.url,
            command.scheme,
            command.after_version,
            command.token,
            command.credentials,
        )

    def committed(self) -> None:
        if self._watch:
            self._watch = False
            self.context.receipts.watch(self.task_id)
