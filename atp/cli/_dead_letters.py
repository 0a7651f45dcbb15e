"""``dead-letters [list]``, ``dead-letters redrive|release <message-id>``.

A message whose webhook delivery failed for good is parked for its recipient, the
alias acting. Redrive pushes it again (a new webhook delivery); release moves it to
the inbox, where ``atp inbox`` claims it.
"""

from __future__ import annotations

from atp.cli._context import Context
from atp.cli._output import as_json, public_deliveries, table, when
from atp.client import DeadLetter, MessageStatus

__all__ = ["PAGE_LIMIT", "list_dead_letters", "redrive", "release"]

PAGE_LIMIT = 200  # the most the carrier answers per page


def _row(ctx: Context, letter: DeadLetter) -> tuple[str, ...]:
    status = letter.message_status
    deliveries = public_deliveries(status.deliveries)
    last = deliveries[-1] if deliveries else {}
    attempts = f"{last.get('attempt_count', 0)}/{last.get('max_attempts') or '-'}"
    tried = last.get("attempts") or [{}]
    answer = tried[-1].get("response_status") or tried[-1].get("error") or "-"
    return (
        status.message.id,
        ctx.short(status.message.sender),
        when(letter.dead_lettered_at),
        attempts,
        str(answer),
    )


def list_dead_letters(ctx: Context) -> None:
    """One page of the alias's dead letters, oldest first (``--after``, ``--limit``)."""
    me = ctx.identity()
    after = ctx.invocation.options.get("--after")
    limit = ctx.invocation.whole("--limit", 1, PAGE_LIMIT)
    with ctx.client() as client:
        page = client.dead_letters(after, limit, token=me.token)
    if not page.dead_letters:
        lines = ["No dead letters."]
    else:
        header = ("Message", "Sender", "Dead-lettered", "Attempts", "Last answer")
        rows = [_row(ctx, letter) for letter in page.dead_letters]
        lines = table(header, rows, aligned=ctx.out.is_terminal)
    if page.next_after is not None:
        lines.append(f"More: atp dead-letters --after {page.next_after}")
    ctx.out.report(lines, as_json(page))


def _report(ctx: Context, done: str, status: MessageStatus, last: str) -> None:
    ctx.out.report(
        [done, f"Message: {status.message.id}", f"Carrier status: {status.carrier_status}", last],
        as_json(status),
    )


def redrive(ctx: Context, message_id: str) -> None:
    """Push the message again: a new webhook delivery, its attempts from one."""
    me = ctx.identity()
    with ctx.client() as client:
        status = client.redrive_dead_letter(message_id, token=me.token)
    delivery = status.deliveries[-1]["id"] if status.deliveries else "none"
    _report(ctx, "Dead letter redriven.", status, f"Delivery: {delivery} (webhook)")


def release(ctx: Context, message_id: str) -> None:
    """Move the message to the inbox, for ``atp inbox`` to claim."""
    me = ctx.identity()
    with ctx.client() as client:
        status = client.release_dead_letter(message_id, token=me.token)
    _report(ctx, "Dead letter released to the inbox.", status, "Next: atp inbox")
