"""ReceiptsView: the push-notification configs that may still be owed a receipt.

What a restart needs: the sweep has the courier follow every task with such a config.
A config is settled once it was told the task's end (or was set after it); a config
set again is owed anew. The configs themselves are read from their aggregate.
"""

from __future__ import annotations

from typing import Any

from eventsourcing.domain import DomainEventProtocol

from atp.domain import TaskReceipts
from atp.projections._view import View, Writer

__all__ = ["ReceiptsView"]


class ReceiptsView(View):
    """Configs by task, settled or not."""

    name = "receipts"
    tables = ("atp_receipt_tasks", "atp_push_configs")
    aggregates = (TaskReceipts,)

    def apply(self, out: Writer, position: int, event: DomainEventProtocol[Any]) -> None:
        ledger_id = str(event.originator_id)
        match event:
            case TaskReceipts.Started():
                out.execute(
                    "INSERT INTO atp_receipt_tasks (ledger_id, task_id) VALUES (?, ?)",
                    (ledger_id, event.message_id),
                )
            case TaskReceipts.ConfigSet():
                out.execute(
                    "DELETE FROM atp_push_configs WHERE ledger_id = ? AND config_id = ?",
                    (ledger_id, event.config_id),
                )
                out.execute(
                    "INSERT INTO atp_push_configs (ledger_id, config_id, settled) VALUES (?, ?, ?)",
                    (ledger_id, event.config_id, event.task_ended),
                )
            case TaskReceipts.ConfigDeleted():
                out.execute(
                    "DELETE FROM atp_push_configs WHERE ledger_id = ? AND config_id = ?",
                    (ledger_id, event.config_id),
                )
            case TaskReceipts.ReceiptRecorded() if event.final:
                out.execute(
                    "UPDATE atp_push_configs SET settled = ? WHERE ledger_id = ? AND config_id = ?",
                    (True, ledger_id, event.config_id),
                )
