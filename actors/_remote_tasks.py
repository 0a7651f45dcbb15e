"""Following a task an A2A recipient answered as still going on.

An A2A recipient may answer the carrier's ``SendMessage`` with a task that is not done
(submitted, working, waiting for input): the carrier records that as the ACK
``accepted``, with the recipient's task id in the ACK's payload, and then asks the
recipient's ``GetTask`` for it, at growing intervals (1 s, doubling, at most 5 min),
until the task ends; its end goes to the mailbox as the message's next ACK
(``FinishRemoteTask``). The ACK in the ledger is what says a task is followed, so after
a restart the sweep finds the messages still ``accepted`` and following starts again.
The calls are signed as the pushes are and go through the same client and its SSRF
defence; a recipient whose endpoint is gone, or no longer an A2A server, is no longer
asked.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

import trio

from atp.actors._context import ActorContext
from atp.actors.commands import FinishRemoteTask
from atp.domain import AckStatus, Agent, Message, aggregate_id
from atp.observe import describe_exception
from atp.push import WebhookClient
from atp.wire import NotAnAnswer, get_task_request, read_task

__all__ = ["RemoteTaskFollower", "Sign"]

log = logging.getLogger(__name__)

_FIRST, _MOST = 1.0, 300.0  # seconds between two asks: the first, and at most

# The headers of a call to the recipient: (agent, delivery id, message id, body,
# webhook id).
Sign = Callable[[Agent, str, str, bytes, str], Mapping[str, str]]


class RemoteTaskFollower:
    """Asks A2A recipients for the tasks they answered as going on, until each ends."""

    def __init__(self, client: WebhookClient, limiter: trio.CapacityLimiter, sign: Sign) -> None:
        self.client = client
        self._limiter = limiter
        self._sign = sign
        self._following: set[str] = set()  # message ids

    @property
    def following(self) -> int:
        """Tasks followed now."""
        return len(self._following)

    def takes(self, message_id: str) -> bool:
        """Whether to start following ``message_id`` (False: it is followed already)."""
        if message_id in self._following:
            return False
        self._following.add(message_id)
        return True

    async def follow(self, context: ActorContext, recipient_agent_id: str, message_id: str) -> None:
        """Ask until the task ends and its end is recorded (or nothing is left to ask);
        call once ``takes`` said so."""
        try:
            await self._follow(context, recipient_agent_id, message_id)
        except Exception as exc:  # the store went away, say: the next sweep starts again
            log.warning("following an A2A task stopped (%s)", describe_exception(exc))
        finally:
            self._following.discard(message_id)

    async def _follow(
        self, context: ActorContext, recipient_agent_id: str, message_id: str
    ) -> None:
        message = await context.ledger.get(Message, aggregate_id(message_id))
        if message is None or message.ack_status is not AckStatus.ACCEPTED:
            return
        accepted = message.acks[-1]
        task_id = accepted.payload.get("taskId") if isinstance(accepted.payload, dict) else None
        if not isinstance(task_id, str) or not task_id:
            return  # not an A2A recipient's answer, or one that named no task
        wait, asked = _FIRST, 0
        while True:
            await trio.sleep(wait)
            wait = min(wait * 2, _MOST)
            agent = await context.identities.agent(recipient_agent_id)
            if agent is None or not agent.webhook_active or agent.endpoint_kind != "a2a":
                return
            assert agent.webhook is not None
            asked += 1
            call_id = f"{accepted.delivery_id}-get{asked}"  # not the push's: no retry of it
            body = get_task_request(task_id, call_id)
            headers = self._sign(agent, accepted.delivery_id, message_id, body, call_id)
            async with self._limiter:
                outcome = await self.client.post(agent.webhook["url"], body, headers)
            if outcome.status is None or not 200 <= outcome.status < 300:
                continue
            try:
                answer = read_task(outcome.body)
            except NotAnAnswer:
                continue
            if answer.ack_status is not AckStatus.ACCEPTED:
                await context.ask(FinishRemoteTask(recipient_agent_id, message_id, answer))
                return
