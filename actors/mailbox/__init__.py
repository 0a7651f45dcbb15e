"""The mailbox: one recipient agent's messages, and the only writer of them.

One unit of seven parts, each with one concern:

- ``MailboxActor`` (``_actor``): the actor; it takes each command, decides, stages
  what changed, and answers.
- ``MailboxWindow`` (``_window``): which open messages are in memory; a backlog waits
  on disk and pages in.
- ``WebhookQueue`` (``_webhook_queue``): the deliveries still to push, by due time,
  and the attempts in flight.
- ``SessionTurns`` (``_sessions``): session rules (an opening's answer or expiry, turns
  in order); it returns what it changed for the actor to stage.
- ``UnknownSenders`` (``_senders``): the unknown-sender limit.
- ``MailboxReplays`` (``_replays``): this mailbox's part in replays.
- ``StreamLeases`` (``_stream_leases``): the leases streaming consumers hold: renewed
  while they hold them, released when they go.

Only the actor is used from outside; the others are its collaborators: each takes what
it works on (the window, the queue, the views), never the actor.
"""

from atp.actors.mailbox._actor import MailboxActor

__all__ = ["MailboxActor"]
