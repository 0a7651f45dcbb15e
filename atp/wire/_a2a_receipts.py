"""A task's state changes, read off its message's history, and the receipt of each.

A receipt is what A2A pushes to a client's push-notification config: one
``StreamResponse`` per change of the task's state. A change that ends the task is
told as the whole ``task`` (so the answer and its artifact come with it); any other as
a ``statusUpdate``. Both are rendered from the message as it stood at the change, so a
receipt sent again after a restart says exactly what it said the first time.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import attrs

from atp.domain import Message
from atp.wire._a2a_task import TERMINAL_TASK_STATES, status_update, task_document, task_state

__all__ = ["StateChange", "state_changes"]

_COMPACT = json.JSONEncoder(separators=(",", ":"))


@attrs.frozen
class StateChange:
    """The task's state became ``state`` at the message's ``version``."""

    version: int
    state: str
    body: bytes = attrs.field(repr=False)  # the receipt: a StreamResponse, as JSON

    @property
    def final(self) -> bool:
        return self.state in TERMINAL_TASK_STATES


def state_changes(events: Iterable[Any]) -> list[StateChange]:
    """Each change of the task's state in a message's history (its events from the
    first), oldest first. The task's first state, when it is sent, is no change."""
    message: Message | None = None
    last: str | None = None
    changes = []
    for event in events:
        message = event.mutate(message)
        assert message is not None
        state = task_state(message)
        if last is not None and state != last:
            changes.append(StateChange(message.version, state, _receipt(message, state)))
        last = state
    return changes


def _receipt(message: Message, state: str) -> bytes:
    task = task_document(message)
    response = {"task": task} if state in TERMINAL_TASK_STATES else status_update(task)
    return _COMPACT.encode(response).encode()
