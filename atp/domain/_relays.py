"""AmtpRelay: one AMTP message on its way to another domain's gateway.

The recipients of one message at one other domain travel together, in one request
(AMTP's reference gateway sent one per recipient under one idempotency key, so the
receiver kept the first and dropped the rest: never one key for two recipient sets).
A relay is attempted until the gateway takes it (2xx), or gives up: after
``max_attempts``, or at once on an answer that a retry cannot change (a 4xx other than
408 and 429). A relay given up is a dead letter, and its sender is told
(``delivery_failure``, AMTP §8). The schedule is AMTP's: 1 s, then doubling, capped,
each wait jittered by up to a quarter either way (``next_delay``).
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Literal
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from atp.domain._ids import aggregate_id

__all__ = ["AmtpRelay", "RelayState", "next_delay", "relay_id"]

RelayState = Literal["pending", "delivered", "failed"]
_FIRST_DELAY, _MAX_DELAY = 1.0, 3600.0
_NOT_RETRIED = frozenset(range(400, 500)) - {408, 429}


def relay_id(message_id: str, domain: str) -> str:
    """The relay of ``message_id`` to ``domain``."""
    return f"{message_id}@{domain}"


def next_delay(attempt: int, rng: random.Random | None = None) -> float:
    """The wait after attempt ``attempt`` (1-based): 1 s, 2 s, 4 s, … up to an hour,
    give or take a quarter."""
    base = min(_FIRST_DELAY * 2.0 ** (attempt - 1), _MAX_DELAY)
    jitter: float = (rng or random).uniform(0.75, 1.25)
    return base * jitter


class AmtpRelay(Aggregate):
    """An AMTP message's recipients at one other domain, and the attempts to reach them."""

    class Started(Aggregate.Created):
        relay_id: str
        message_id: str
        domain: str
        recipients: list[str]
        sender_agent_id: str
        sender_account_id: str
        max_attempts: int
        at: datetime

    class AttemptRecorded(Aggregate.Event):
        attempt: int
        response_status: int | None
        error: str | None  # the class of failure, never a body
        next_attempt_at: datetime | None  # None: no more attempts
        at: datetime

    class Delivered(Aggregate.Event):
        """The gateway took the message for its recipients."""

        at: datetime

    class Abandoned(Aggregate.Event):
        """No attempt is left, or the gateway refused it for good: a dead letter."""

        reason: str
        at: datetime

    @staticmethod
    def create_id(relay: str) -> UUID:
        return aggregate_id(f"amtp-relay:{relay}")

    @classmethod
    def start(
        cls,
        message_id: str,
        domain: str,
        recipients: list[str],
        sender_agent_id: str,
        sender_account_id: str,
        max_attempts: int,
        at: datetime,
    ) -> AmtpRelay:
        relay = relay_id(message_id, domain)
        return cls._create(
            cls.Started,
            id=cls.create_id(relay),
            relay_id=relay,
            message_id=message_id,
            domain=domain,
            recipients=recipients,
            sender_agent_id=sender_agent_id,
            sender_account_id=sender_account_id,
            max_attempts=max_attempts,
            at=at,
        )

    @event(Started)
    def __init__(
        self,
        relay_id: str,
        message_id: str,
        domain: str,
        recipients: list[str],
        sender_agent_id: str,
        sender_account_id: str,
        max_attempts: int,
        at: datetime,
    ) -> None:
        self.relay_id = relay_id
        self.message_id = message_id
        self.domain = domain
        self.recipients = recipients
        self.sender_agent_id = sender_agent_id
        self.sender_account_id = sender_account_id
        self.max_attempts = max_attempts
        self.state: RelayState = "pending"
        self.attempts = 0
        self.due_at: datetime | None = at
        self.first_attempt_at: datetime | None = None
        self.last_attempt_at: datetime | None = None
        self.last_status: int | None = None
        self.last_error: str | None = None
        self.reason: str | None = None
        self.ended_at: datetime | None = None

    def record_attempt(
        self, response_status: int | None, error: str | None, delay: float, now: datetime
    ) -> None:
        """Record how an attempt ended; ``delay`` is the wait before the next one, if
        one is due (``next_delay``)."""
        assert self.state == "pending", "an attempt of an ended relay"
        attempt = self.attempts + 1
        delivered = response_status is not None and 200 <= response_status < 300
        final = response_status in _NOT_RETRIED
        retry = not delivered and not final and attempt < self.max_attempts
        due = None
        if retry:
            due = now + timedelta(seconds=delay)
        self._attempt_recorded(attempt, response_status, error, due, now)
        if delivered:
            self._delivered(now)
        elif not retry:
            why = f"refused with {response_status}" if final else f"{attempt} attempts failed"
            self._abandoned(why, now)

    @event(AttemptRecorded)
    def _attempt_recorded(
        self,
        attempt: int,
        response_status: int | None,
        error: str | None,
        next_attempt_at: datetime | None,
        at: datetime,
    ) -> None:
        self.attempts = attempt
        self.first_attempt_at = self.first_attempt_at or at
        self.last_attempt_at = at
        self.last_status = response_status
        self.last_error = error
        self.due_at = next_attempt_at

    @event(Delivered)
    def _delivered(self, at: datetime) -> None:
        self.state = "delivered"
        self.due_at = None
        self.ended_at = at

    @event(Abandoned)
    def _abandoned(self, reason: str, at: datetime) -> None:
        self.state = "failed"
        self.due_at = None
        self.reason = reason
        self.ended_at = at
