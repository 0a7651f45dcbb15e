"""A session's transcript as a table, as ``session show`` and ``session watch`` print it.

    Seq  Time                  Sender  Recipient  Delivery   ACK        Message
    1    2026-05-27T12:00:00Z  alpha   beta       delivered  accepted   shall we talk?

Columns are as wide as their widest cell or known alias, within a cap; a longer cell
is cut and ends in ``~``. The message wraps at 120 characters under its column.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterable
from datetime import UTC

from atp.cli._output import first_text
from atp.client import MessageStatus

__all__ = ["Transcript", "delivery_state", "sort_key"]

_COLUMNS = ("Seq", "Time", "Sender", "Recipient", "Delivery", "ACK")
_DEFAULT = (3, 4, 6, 9, 9, 9)
_CAP = (6, 30, 24, 24, 16, 12)
_MESSAGE_WIDTH = 120
_SHOWN_STATES = ("delivered", "leased", "retry_scheduled", "failed")


def delivery_state(status: MessageStatus) -> str:
    """The state that says most about a message's deliveries, else its carrier status."""
    present = {delivery["status"] for delivery in status.deliveries}
    for state in _SHOWN_STATES:
        if state in present:
            return state
    return status.carrier_status or "-"


def sort_key(status: MessageStatus) -> tuple[int, str, str]:
    created = status.message.created_at
    return (
        status.message.session_sequence or 0,
        created.isoformat() if created else "",
        status.message.id,
    )


class Transcript:
    """Fixes the column widths once, from the rows known so far and the local aliases."""

    def __init__(
        self, name: Callable[[str], str], rows: Iterable[MessageStatus], aliases: Iterable[str]
    ) -> None:
        self._name = name  # address -> alias or address
        longest_alias = max((len(a) for a in aliases), default=0)
        widths = list(_DEFAULT)
        for i in (2, 3):
            widths[i] = max(widths[i], longest_alias)
        for row in rows:
            widths = [max(w, len(c)) for w, c in zip(widths, self._cells(row), strict=True)]
        self._widths = [min(w, cap) for w, cap in zip(widths, _CAP, strict=True)]

    def header(self) -> str:
        return self._line(_COLUMNS, "Message")

    def row(self, status: MessageStatus) -> list[str]:
        """The lines of one message: its cells, then the rest of its text wrapped."""
        text = first_text(status.message.payload, width=None)
        wrapped = textwrap.wrap(text, _MESSAGE_WIDTH, break_on_hyphens=False) or [""]
        indent = " " * (sum(self._widths) + 2 * len(self._widths))
        return [self._line(self._cells(status), wrapped[0])] + [indent + w for w in wrapped[1:]]

    def _cells(self, status: MessageStatus) -> tuple[str, ...]:
        message = status.message
        created = message.created_at
        time = created.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if created else "-"
        return (
            str(message.session_sequence or "-"),
            time,
            self._name(message.sender),
            self._name(message.recipient),
            delivery_state(status),
            status.ack_status or "-",
        )

    def _line(self, cells: Iterable[str], message: str) -> str:
        fitted = [_fit(cell, width) for cell, width in zip(cells, self._widths, strict=True)]
        return "  ".join([*fitted, message]).rstrip()


def _fit(cell: str, width: int) -> str:
    return cell.ljust(width) if len(cell) <= width else cell[: width - 1] + "~"
