"""AmtpWebhook: where a sender wants to hear how its AMTP messages went (AMTP §12.1.4).

An agent registers one for the messages it sends; an account (the AMTP admin) for the
messages of all its agents. A webhook hears of the messages accepted after it was
registered: ``message.delivered`` when a recipient was handed the message (its inbox
leased it, its webhook took it, or its domain's gateway did) and ``message.failed``
when the carrier gave a recipient up, once each per recipient. What each was told is
kept on the message's ``AmtpEnvelope`` (``notice_recorded``); its secret, sealed,
signs the notices (Standard Webhooks).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from atp.domain._ids import aggregate_id

__all__ = ["NOTICE_EVENTS", "AmtpWebhook", "NoticeEvent"]

NoticeEvent = Literal["message.delivered", "message.failed"]
NOTICE_EVENTS: tuple[NoticeEvent, ...] = ("message.delivered", "message.failed")


class AmtpWebhook(Aggregate):
    """One delivery-notification webhook of an agent, or of a whole account."""

    class Registered(Aggregate.Created):
        webhook_id: str
        account_id: str
        agent_id: str | None  # None: every agent of the account
        url: str
        events: list[str]
        sealed_secret: str
        at: datetime

    class Removed(Aggregate.Event):
        at: datetime

    @staticmethod
    def create_id(webhook_id: str) -> UUID:
        return aggregate_id(f"amtp-webhook:{webhook_id}")

    @classmethod
    def register(
        cls,
        webhook_id: str,
        account_id: str,
        agent_id: str | None,
        url: str,
        events: list[str],
        sealed_secret: str,
        at: datetime,
    ) -> AmtpWebhook:
        return cls._create(
            cls.Registered,
            id=cls.create_id(webhook_id),
            webhook_id=webhook_id,
            account_id=account_id,
            agent_id=agent_id,
            url=url,
            events=events,
            sealed_secret=sealed_secret,
            at=at,
        )

    @event(Registered)
    def __init__(
        self,
        webhook_id: str,
        account_id: str,
        agent_id: str | None,
        url: str,
        events: list[str],
        sealed_secret: str,
        at: datetime,
    ) -> None:
        self.webhook_id = webhook_id
        self.account_id = account_id
        self.agent_id = agent_id
        self.url = url
        self.events = events
        self.sealed_secret = sealed_secret
        self.registered_at = at
        self.removed_at: datetime | None = None

    @event(Removed)
    def remove(self, at: datetime) -> None:
        self.removed_at = at
