"""UnknownSenders: the unknown-sender limit of one recipient's mailbox.

A sender the recipient's policy does not trust, from another account, may send only
``limit`` messages per ``window`` (sliding) to this recipient; blocked senders are
refused anyway and not counted. The recent sends are live state, rebuilt from the
messages view when the mailbox starts.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from datetime import datetime, timedelta

from atp.errors import UnknownSenderRateLimited

__all__ = ["UnknownSenders"]


class UnknownSenders:
    """Recent unknown-sender sends to one recipient, per sender account."""

    def __init__(self, *, limit: int, window_seconds: float) -> None:
        self.limit = limit
        self.window = timedelta(seconds=window_seconds)
        self._recent: dict[str, deque[datetime]] = {}

    def since(self, now: datetime) -> datetime:
        """The start of the window ending ``now``: what ``load`` wants."""
        return now - self.window

    def load(self, sends: Iterable[tuple[str, datetime]]) -> None:
        """Replace the live state with these (account id, sent at), oldest first."""
        self._recent.clear()
        for account_id, sent_at in sends:
            self._recent.setdefault(account_id, deque()).append(sent_at)

    def check(self, account_id: str, now: datetime) -> None:
        """Raises:
        UnknownSenderRateLimited: the account used up its sends in the window."""
        if len(self._trimmed(account_id, now)) >= self.limit:
            raise UnknownSenderRateLimited()

    def record(self, account_id: str, now: datetime) -> None:
        self._trimmed(account_id, now).append(now)

    def _trimmed(self, account_id: str, now: datetime) -> deque[datetime]:
        recent = self._recent.setdefault(account_id, deque())
        while recent and recent[0] < now - self.window:
            recent.popleft()
        return recent
