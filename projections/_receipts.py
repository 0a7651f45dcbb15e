"""ReceiptsView: the push-notification configs that may still be owed a receipt.

What a restart needs: the sweep has the courier follow every task with such a config.
A config is settled once it was told the task's end (or was set after it); a config
set again, or of a task that goes on after its end (a dead letter redriven or
released), is owed anew. The configs themselves are read from their aggregate.
"""

from __future__ import annotations

from typing import Any

from eventsourcing.domain import DomainEventProtocol

from atp.domain import Message, TaskReceipts, aggregate_id
from atp.projections._view import View, Writer

__all__ = ["ReceiptsView"]

_FOLDED: frozenset[type] = frozenset(
    {
        TaskReceipts.Started,
        TaskReceipts.ConfigSet,
        TaskReceipts.ConfigDeleted,
        TaskReceipts.ReceiptRecorded,
        Message.DeadLetterRedriven,
        Message.DeadLetterReleased,
    }
)


class ReceiptsView(View):
    """Configs by task, settled or not."""

    name = "receipts"
    tables = ("atp_receipt_tasks", "atp_push_configs")
    aggregates = (TaskReceipts, Message)

    def apply(self, out: Writer, position: int, event: DomainEventProtocol[Any]) -> None:
        if type(event) not in _FOLDED:  # most are a message's other events: one look
            return
        ledger_id = str(event.originator_id)
        match event:
            case TaskReceipts.Started():
                out.execute(
                    "INSERT INTO atp_receipt_tasks (ledger_id, task_id, message_ledger_id,"
                    " reopened_version) VALUES (?, ?, ?, 0)",
                    (ledger_id, event.message_id, str(aggregate_id(event.message_id))),
                )
            case Message.DeadLetterRedriven() | Message.DeadLetterReleased():
                # Its task goes on: what its configs were told of its end is not the end.
                out.execute(
                    "UPDATE atp_receipt_tasks SET reopened_version = ? WHERE message_ledger_id = ?",
                    (event.originator_version, ledger_id),
                )
                out.execute(
                    "UPDATE atp_push_configs SET settled = ? WHERE ledger_id IN"
                    " (SELECT ledger_id FROM atp_receipt_tasks WHERE message_ledger_id = ?)",
                    (False, ledger_id),
                )
            case TaskReceipts.ConfigSet():  # new, or set again: owed anew
                out.execute(
                    "INSERT INTO atp_push_configs (ledger_id, config_id, settled) VALUES (?, ?, ?)"
                    " ON CONFLICT (ledger_id, config_id) DO UPDATE SET settled = excluded.settled",
                    (ledger_id, event.config_id, event.task_ended),
                )
            case TaskReceipts.ConfigDeleted():
                out.execute(
                    "DELETE FROM atp_push_configs WHERE ledger_id = ? AND config_id = ?",
                    (ledger_id, event.config_id),
                )
            case TaskReceipts.ReceiptRecorded() if event.final:
                # Settled only by an end after the task's last reopening: a receipt of
                # the end before it may be recorded after it.
                out.execute(
                    "UPDATE atp_push_configs SET settled = ? WHERE ledger_id = ?"
                    " AND config_id = ? AND ? > (SELECT reopened_version FROM atp_receipt_tasks"
                    " WHERE ledger_id = ?)",
                    (True, ledger_id, event.config_id, event.version, ledger_id),
                )
