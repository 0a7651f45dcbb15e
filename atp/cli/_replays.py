"""``message replay``, ``replay start|show|cancel``: messages handed out once more.

The alias acting is the recipient: it replays messages it was handed, to its webhook
endpoint (``--target webhook``, the default) or to its inbox, where ``atp inbox``
claims each once more. A replay changes no delivery, status or ACK; the carrier runs it
and ``replay show --follow`` watches it to its end (docs/api.md, "Replays").
"""

from __future__ import annotations

import sys
import time
from typing import Any, Literal

from atp.cli._args import Invocation
from atp.cli._context import ADDRESS_PREFIX, Context
from atp.cli._output import CliError, as_json, when
from atp.client import Client, Replay

__all__ = [
    "POLL_SECONDS",
    "RATE_LIMIT",
    "STATUSES",
    "TARGETS",
    "cancel",
    "message_replay",
    "replay_lines",
    "show",
    "start",
]

TARGETS = ("webhook", "inbox")
# A message's carrier_status or ack_status (what the carrier matches them against).
STATUSES = (
    "queued",
    "delivered",
    "delivery_failed",
    "expired",
    "rejected",
    "accepted",
    "completed",
    "failed",
)
RATE_LIMIT = 1000  # messages per second, the carrier's bound
_NAME_LIMIT = 200
POLL_SECONDS = 1.0  # between looks while following


def message_replay(ctx: Context, message_id: str) -> None:
    """Hand one message out again (``--target webhook|inbox``)."""
    me = ctx.identity()
    target = _target(ctx.invocation)
    with ctx.client() as client:
        replay = client.replay_message(message_id, target=target, token=me.token)
    lines = replay_lines(ctx, replay, message_id)
    ctx.out.report(["Replay started.", *lines, *_next(replay)], as_json(replay))


def start(ctx: Context) -> None:
    """Replay the alias's messages that match the options (none: every one it was handed)."""
    invocation = ctx.invocation
    options = invocation.options
    statuses = invocation.every("--status")
    if any(status not in STATUSES for status in statuses):
        raise CliError(f"--status must be one of {', '.join(STATUSES)}")
    name = options.get("--name")
    if name is not None and not 0 < len(name) <= _NAME_LIMIT:
        raise CliError(f"--name must be 1 to {_NAME_LIMIT} characters")
    sender = options.get("--sender")
    chosen: dict[str, Any] = {
        "target": _target(invocation),
        "since": invocation.time("--since"),
        "until": invocation.time("--until"),
        "status": list(statuses) or None,
        "sender": None if sender is None else ctx.agent_id(sender),
        "session": options.get("--session"),
        "rate_per_second": _rate(invocation),
        "name": name,
    }
    me = ctx.identity()
    with ctx.client() as client:
        replay = client.start_replay(**chosen, token=me.token)
    ctx.out.report(["Replay started.", *replay_lines(ctx, replay), *_next(replay)], as_json(replay))


def show(ctx: Context, replay_id: str) -> None:
    """The replay's progress; with ``--follow``, watched until it is no longer running."""
    me = ctx.identity()
    with ctx.client() as client:
        replay = client.replay(replay_id, token=me.token)
        if "--follow" in ctx.invocation.flags and replay.running:
            replay = _follow(ctx, client, replay, me.token)
    ctx.out.report(replay_lines(ctx, replay), as_json(replay))


def cancel(ctx: Context, replay_id: str) -> None:
    """Stop the replay before its next message; a completed one cannot be cancelled."""
    me = ctx.identity()
    with ctx.client() as client:
        replay = client.cancel_replay(replay_id, token=me.token)
    ctx.out.report(["Replay cancelled.", *replay_lines(ctx, replay)], as_json(replay))


def replay_lines(ctx: Context, replay: Replay, message_id: str | None = None) -> list[str]:
    """A replay for a person: what it takes, where to, and how far it is."""
    rate = "-" if replay.rate_per_second is None else f"{replay.rate_per_second:g} per second"
    return [
        f"Replay: {replay.id}",
        f"Name: {replay.name or '-'}",
        f"Recipient: {ctx.decorated(ADDRESS_PREFIX + replay.agent_id)}",
        f"Target: {replay.target}",
        f"Message: {message_id}" if message_id else f"Selection: {_selection(ctx, replay)}",
        f"Rate: {rate}",
        f"State: {replay.state}",
        f"Done: {_counts(replay)}",
        f"Created: {when(replay.created_at)}",
        f"Finished: {when(replay.finished_at)}",
    ]


def _selection(ctx: Context, replay: Replay) -> str:
    if replay.rate_per_second is None:
        return "one message"
    chosen = replay.filter
    parts = []
    if chosen.since is not None:
        parts.append(f"sent since {when(chosen.since)}")
    if chosen.until is not None:
        parts.append(f"sent before {when(chosen.until)}")
    if chosen.status:
        parts.append(f"status {' or '.join(chosen.status)}")
    if chosen.sender is not None:
        parts.append(
            f"from {ctx.short(ADDRESS_PREFIX + chosen.sender.removeprefix(ADDRESS_PREFIX))}"
        )
    if chosen.session is not None:
        parts.append(f"in session {chosen.session}")
    return ", ".join(parts) or "every message handed out"


def _counts(replay: Replay) -> str:
    return (
        f"{replay.done}/{replay.total} ({replay.delivered} delivered, {replay.failed} failed,"
        f" {replay.skipped} skipped)"
    )


def _next(replay: Replay) -> list[str]:
    return [f"Follow: atp replay show {replay.id} --follow"] if replay.running else []


def _target(invocation: Invocation) -> Literal["webhook", "inbox"]:
    target = invocation.options.get("--target", "webhook")
    if target == "inbox":
        return "inbox"
    if target != "webhook":
        raise CliError("--target must be webhook or inbox")
    return "webhook"


def _rate(invocation: Invocation) -> float | None:
    """``--rate N``: messages per second, above 0 and at most ``RATE_LIMIT``."""
    text = invocation.options.get("--rate")
    if text is None:
        return None
    try:
        rate = float(text)
    except ValueError:
        rate = float("nan")
    if not 0 < rate <= RATE_LIMIT:
        raise CliError(f"--rate must be a number above 0, at most {RATE_LIMIT}")
    return rate


def _follow(ctx: Context, client: Client, replay: Replay, token: str) -> Replay:
    """Look again every ``POLL_SECONDS`` until the replay is no longer running: a bar on
    a terminal (stderr), else one line (or JSON document) each time it moves on.
    Ctrl-C stops the watching, not the replay."""
    bar = None
    if not ctx.out.json_mode and sys.stderr.isatty():
        from tqdm import tqdm

        bar = tqdm(total=replay.total, unit="message", desc=replay.id, file=sys.stderr)
    shown = -1
    try:
        while replay.running:
            if replay.done != shown:
                shown = replay.done
                if bar is not None:
                    bar.update(replay.done - bar.n)
                else:
                    ctx.out.report([f"{replay.id}: {_counts(replay)}"], as_json(replay))
            time.sleep(POLL_SECONDS)
            replay = client.replay(replay.id, token=token)
        if bar is not None:
            bar.update(replay.done - bar.n)
    except KeyboardInterrupt:
        pass
    finally:
        if bar is not None:
            bar.close()
    return replay
