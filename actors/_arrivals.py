"""Arrivals: wake long-polling inbox claims when their mailbox may have news.

A waiting claim must not keep a mailbox alive, nor miss news because the mailbox it
asked was stopped while idle and a new one started; so the signal lives here, per
recipient, outside any actor. A mailbox calls ``notify`` after each commit and when a
lease ends; a waiter then asks the mailbox again. Nothing sleeps in a polling loop.
"""

from __future__ import annotations

import trio

__all__ = ["Arrivals"]


class Arrivals:
    """One event per recipient that someone waits on; set and forgotten on notify."""

    def __init__(self) -> None:
        self._events: dict[str, trio.Event] = {}

    def event(self, agent_id: str) -> trio.Event:
        """The event the next ``notify(agent_id)`` sets (get it *before* asking again)."""
        event = self._events.get(agent_id)
        if event is None:
            event = self._events[agent_id] = trio.Event()
        return event

    def notify(self, agent_id: str) -> None:
        event = self._events.pop(agent_id, None)
        if event is not None:
            event.set()
