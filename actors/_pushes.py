"""What actors hand on for a push, and what takes it.

The mailbox claims a due delivery in its own commit and passes a ``WebhookJob`` to
``Pushes`` (the ``WebhookDispatcher``), which makes the attempt outside any actor and
reports back with a command. A task's receipts actor asks ``Receipts`` (the
``ReceiptCourier``) to follow the task once it has a config; an AMTP message's actor
asks ``Notices`` (the ``AmtpNotifier``) to follow the message for its sender's webhooks.
"""

from __future__ import annotations

from typing import Protocol

import attrs

from atp.push import PostOutcome

__all__ = ["Notices", "Pushes", "Receipts", "WebhookJob"]


@attrs.frozen
class WebhookJob:
    """One claimed attempt: what to post, and the claim to report it under."""

    recipient_agent_id: str
    message_id: str
    delivery_id: str
    claim_token: str = attrs.field(repr=False)
    body: bytes = attrs.field(repr=False)
    # The request that made the delivery due (a send, a redrive), for the attempt's log
    # lines; None when the carrier found it due on its own after a restart.
    request_id: str | None = None
    replay_id: str | None = None  # a replay's push: one attempt, answered to the caller


class Pushes(Protocol):
    """Where webhook attempts go."""

    def submit(self, job: WebhookJob) -> None:
        """Start an attempt (once its claim is committed); its end comes back as a command."""

    async def push_once(self, job: WebhookJob) -> tuple[PostOutcome, str | None]:
        """Make one attempt now and answer how it ended (a replay's push)."""
        ...

    def follow(self, recipient_agent_id: str, message_id: str) -> None:
        """Follow the task an A2A recipient answered the message with as going on."""


class Receipts(Protocol):
    """Where tasks with push-notification configs go to have their receipts sent."""

    def watch(self, task_id: str) -> None:
        """Send what the task owes its configs, now and as its state changes (a task
        followed already is left as it is)."""


class Notices(Protocol):
    """Where AMTP messages go to have their senders' webhooks told how they went."""

    def watch(self, message_id: str) -> None:
        """Tell the webhooks what they are owed of the message, now and as it goes on
        (a message followed already is left as it is)."""
