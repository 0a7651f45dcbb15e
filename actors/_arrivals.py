"""Arrivals: wake long-polling inbox claims, session streams and A2A task followers when
there may be news.

A waiting claim must not keep a mailbox alive, nor miss news because the mailbox it
asked was stopped while idle and a new one started; so the signal lives here, per
recipient (or per session or message, for their followers), outside any actor. A
mailbox notifies its agent id after each commit and when a lease ends; any commit that
includes a session's or a message's events notifies that session's or message's id. A
waiter then asks or reads again. Nothing sleeps in
a polling loop.

When the carrier stops, ``close`` wakes every waiter for good, so that long polls
answer and streams end at once instead of holding the HTTP server's graceful stop.
"""

from __future__ import annotations

import trio

__all__ = ["Arrivals"]


class Arrivals:
    """One event per agent or session id that someone waits on; set and forgotten on notify."""

    def __init__(self) -> None:
        self._events: dict[str, trio.Event] = {}
        self._closed = trio.Event()

    @property
    def closed(self) -> bool:
        """Whether the carrier is stopping: a waiter answers now, or ends."""
        return self._closed.is_set()

    def event(self, key: str) -> trio.Event:
        """The event the next ``notify(key)`` sets (get it *before* asking again); once
        closed, an event already set."""
        if self._closed.is_set():
            return self._closed
        event = self._events.get(key)
        if event is None:
            event = self._events[key] = trio.Event()
        return event

    def close(self) -> None:
        """Wake every waiter, now and from now on."""
        self._closed.set()
        for event in self._events.values():
            event.set()
        self._events.clear()

    def notify(self, key: str) -> None:
        event = self._events.pop(key, None)
        if event is not None:
            event.set()
