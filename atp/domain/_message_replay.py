"""The replay half of a Message: its delivery handed to the recipient once more.

A replay pushes a message again to the recipient's webhook endpoint, or makes it
claimable again in its inbox, on the recipient's request. It is one attempt, recorded
as the message's own events beside its deliveries, which it never changes: the
original delivery's id travels again (as ``webhook-id``, so a receiver that dedupes
knows it) and the delivery's record, its attempts and the message's statuses stay as
they were.

``MessageWebhook`` derives from this class; its events are triggered as
``type(self).<Event>`` so that every topic reads ``Message.<Event>`` (see there).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, TypedDict

from eventsourcing.domain import Aggregate

from atp.domain._delivery import Delivery
from atp.domain._replay import ReplayTarget
from atp.errors import MessageNotDelivered

__all__ = ["MessageReplay", "ReplayAttempt"]


class ReplayAttempt(TypedDict):
    """The message's part in one replay: pending until its one attempt is recorded."""

    replay_id: str
    target: ReplayTarget
    delivery_id: str  # the original delivery's id, sent again as webhook-id
    result: Literal["delivered", "failed"] | None
    response_status: int | None
    error: str | None
    started_at: datetime
    ended_at: datetime | None


class MessageReplay(Aggregate):
    """Replays of a message (see ``Message``)."""

    message_id: str
    deliveries: list[Delivery]
    replays: dict[str, ReplayAttempt]

    class ReplayStarted(Aggregate.Event):
        """A replay took the message: a push is about to be made, or (inbox) the message
        waits for a claim."""

        replay_id: str
        message_id: str  # for the views, which cannot read it from the aggregate's id
        target: ReplayTarget
        delivery_id: str
        at: datetime

        def apply(self, aggregate: Any) -> None:
            aggregate.replays[self.replay_id] = {
                "replay_id": self.replay_id,
                "target": self.target,
                "delivery_id": self.delivery_id,
                "result": None,
                "response_status": None,
                "error": None,
                "started_at": self.at,
                "ended_at": None,
            }

    class ReplayAttemptRecorded(Aggregate.Event):
        """How the replay's attempt ended: the push's answer, or the inbox claim that
        handed the message out (``delivered``); ``interrupted`` if the carrier stopped
        while a push was in flight (it is never made twice)."""

        replay_id: str
        result: Literal["delivered", "failed"]
        response_status: int | None
        error: str | None
        request_url: str | None
        at: datetime

        def apply(self, aggregate: Any) -> None:
            attempt = aggregate.replays[self.replay_id]
            attempt["result"] = self.result
            attempt["response_status"] = self.response_status
            attempt["error"] = self.error
            attempt["ended_at"] = self.at

    def original_delivery(self) -> Delivery | None:
        """The delivery a replay repeats: the webhook delivery that got through, else the
        message's first webhook delivery, else its first polling lease."""
        webhooks = [d for d in self.deliveries if d["mode"] == "webhook"]
        for delivery in webhooks:
            if delivery["status"] == "delivered":
                return delivery
        if webhooks:
            return webhooks[0]
        return self.deliveries[0] if self.deliveries else None

    def start_replay(self, replay_id: str, target: ReplayTarget, now: datetime) -> ReplayAttempt:
        """Take part in a replay once; a replay that took the message before gets its
        attempt as it stands (nothing new is recorded).

        Raises:
            MessageNotDelivered: the message was never handed out: nothing to replay.
        """
        attempt = self.replays.get(replay_id)
        if attempt is not None:
            return attempt
        delivery = self.original_delivery()
        if delivery is None:
            raise MessageNotDelivered()
        self.trigger_event(
            type(self).ReplayStarted,
            replay_id=replay_id,
            message_id=self.message_id,
            target=target,
            delivery_id=delivery["id"],
            at=now,
        )
        return self.replays[replay_id]

    def record_replay(
        self,
        replay_id: str,
        response_status: int | None,
        error: str | None,
        request_url: str | None,
        now: datetime,
    ) -> ReplayAttempt:
        """Record the end of a pending replay attempt: delivered on a 2xx (or an inbox
        hand-out, which has neither status nor error), failed otherwise."""
        attempt = self.replays[replay_id]
        assert attempt["result"] is None, "record_replay() of an ended attempt"
        ok = error is None and (response_status is None or 200 <= response_status <= 299)
        self.trigger_event(
            type(self).ReplayAttemptRecorded,
            replay_id=replay_id,
            result="delivered" if ok else "failed",
            response_status=response_status,
            error=error,
            request_url=request_url,
            at=now,
        )
        return attempt
