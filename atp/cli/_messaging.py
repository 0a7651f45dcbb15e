"""Direct messages: ``send``, ``message status``, ``inbox``, ``lease extend`` and ``ack``."""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping
from typing import Any

from atp.cli._args import ACK_STATUSES
from atp.cli._batch_files import BATCH as BATCH_LIMIT
from atp.cli._context import Context, text_payload
from atp.cli._output import (
    CliError,
    as_json,
    first_delivery,
    first_text,
    public_deliveries,
    when,
)
from atp.client import AmtpSent, Claim, Message, MessageStatus

__all__ = ["LEASE_LIMIT", "LEASE_SECONDS", "ack", "extend", "inbox", "message_status", "send"]

LEASE_SECONDS = 60
LEASE_LIMIT = 3600  # seconds; the CLI's bound, for claims and extensions alike


def send(ctx: Context, recipient: str, text: str) -> None:
    me = ctx.identity()
    address, is_alias = ctx.resolve(recipient)
    with ctx.client() as client:
        status = client.send(address, text_payload(text), token=me.token)
    if isinstance(status, AmtpSent):  # another domain's address: relayed there over AMTP
        (shown,) = status.recipients
        ctx.out.report(
            [
                "Message sent over AMTP.",
                f"Sender: {me.alias} ({me.address})",
                f"Recipient: {recipient}",
                f"Message: {status.message_id}",
                f"Status: {shown['status']}",
            ],
            as_json(status),
        )
        return
    delivery = first_delivery(status)
    ctx.out.report(
        [
            "Message sent.",
            f"Sender: {me.alias} ({me.address})",
            f"Recipient: {recipient}",
            f"Resolved address: {address}" if is_alias else f"Recipient address: {address}",
            f"Message: {status.message.id}",
            f"Delivery: {delivery}"
            if delivery
            else "Delivery: none yet (polling recipient should run `atp inbox`)",
        ],
        as_json(status),
    )


def message_status(ctx: Context, message_id: str) -> None:
    me = ctx.identity()
    with ctx.client() as client:
        status = client.status(message_id, token=me.token)
    ctx.out.report(_status_lines(ctx, status), as_json(status))


def _status_lines(ctx: Context, status: MessageStatus) -> list[str]:
    """A message status for a person: never its payload, never a receiver's URL."""
    message = status.message
    lines = [
        "Message status.",
        f"Message: {message.id}",
        f"Sender: {ctx.decorated(message.sender)}",
        f"Recipient: {ctx.decorated(message.recipient)}",
        f"Created: {when(message.created_at)}",
        f"Carrier status: {status.carrier_status}",
        f"ACK status: {status.ack_status or '-'}",
        f"Terminal: {when(status.terminal_at)}",
        "",
    ]
    deliveries = public_deliveries(status.deliveries)
    if not deliveries:
        return [*lines, "Deliveries: none"]
    lines.append("Deliveries:")
    for delivery in deliveries:
        lines.extend(_delivery_lines(delivery))
    return lines


def _delivery_lines(delivery: Mapping[str, Any]) -> Iterator[str]:
    count = str(delivery["attempt_count"])
    if delivery.get("max_attempts") is not None:
        count += f"/{delivery['max_attempts']}"
    yield f"- Delivery: {delivery['id']}"
    yield f"  Mode: {delivery['mode']}"
    yield f"  Status: {delivery['status']}"
    yield f"  Attempt count: {count}"
    yield f"  Claimed: {when(delivery.get('claimed_at'))}"
    yield f"  Lease until: {when(delivery.get('leased_until'))}"
    yield f"  Next retry: {when(delivery.get('next_attempt_at'))}"
    yield f"  Delivered: {when(delivery.get('delivered_at'))}"
    if delivery.get("last_error"):
        yield f"  Last error: {delivery['last_error']}"
    attempts = delivery.get("attempts") or []
    if not attempts:
        yield "  Webhook attempts: none"
    for attempt in attempts:
        yield f"  - Attempt #{attempt['attempt_number']}: {attempt['result']}"
        yield f"    Response: {attempt.get('response_status') or '-'}"
        yield f"    Error: {attempt.get('error') or '-'}"
        yield f"    Retry: {when(attempt.get('next_attempt_at'))}"
        yield f"    Created: {when(attempt.get('created_at'))}"


def inbox(ctx: Context) -> None:
    """Claim the next message (``--wait N``: wait up to N s for one to arrive; ``--max
    N``: up to N messages in one request; ``--follow``: each as it arrives)."""
    me = ctx.identity()
    if "--follow" in ctx.invocation.flags:
        _follow(ctx)
        return
    wait = int(ctx.invocation.number("--wait", 0, 60) or 0)
    lease = int(ctx.invocation.number("--lease", 1, LEASE_LIMIT) or LEASE_SECONDS)
    most = ctx.invocation.whole("--max", 1, BATCH_LIMIT)
    if wait:
        print(
            f"Waiting up to {wait:g} s for a message to {me.alias}...", file=sys.stderr, flush=True
        )
    claims: tuple[Claim, ...]
    with ctx.client() as client:
        if most is None:
            claim = client.claim(lease, wait, token=me.token)
            claims = () if claim is None else (claim,)
        else:
            claims = client.claim_batch(most, lease, wait, token=me.token)
    if most is None:
        data = as_json(claims[0]) if claims else {"delivery": None}
    else:
        data = {"deliveries": [as_json(claim) for claim in claims]}
    if not claims:
        ctx.out.report(["No pending deliveries."], data)
        return
    blocks = [_claim_lines(ctx, claim) for claim in claims]
    ctx.out.report([line for block in _spaced(blocks) for line in block], data)


def _follow(ctx: Context) -> None:
    """Print each delivery the inbox stream pushes, until interrupted; at most
    ``--credit N`` (default 10) unACKed at a time, each leased for ``--lease N`` s
    (default 30) and renewed while this runs."""
    me = ctx.identity()
    credit = ctx.invocation.whole("--credit", 1, BATCH_LIMIT) or 10
    lease = ctx.invocation.whole("--lease", 1, LEASE_LIMIT) or 30
    print(f"Following the inbox of {me.alias} (Ctrl-C to stop)...", file=sys.stderr, flush=True)
    with ctx.client() as client:
        try:
            for index, claim in enumerate(client.stream_inbox(credit, lease, token=me.token)):
                lines = _claim_lines(ctx, claim)
                ctx.out.report(lines if index == 0 else ["", *lines], as_json(claim))
        except KeyboardInterrupt:
            return


def _claim_lines(ctx: Context, claim: Claim) -> list[str]:
    message = claim.message
    return [
        f"Delivery: {claim.delivery_id}",
        f"Sender: {ctx.decorated(message.sender)}",
        f"Message: {message.id}",
        *_session_line(message),
        f"Timestamp: {when(message.created_at)}",
        f"Lease until: {when(claim.leased_until)}",
        f"Text: {first_text(message.payload)}",
    ]


def _spaced(blocks: list[list[str]]) -> list[list[str]]:
    """The blocks with an empty line between each two."""
    return [block if i == 0 else ["", *block] for i, block in enumerate(blocks)]


def extend(ctx: Context, delivery_id: str) -> None:
    """Add ``--lease N`` seconds (default 60) to a claimed message's lease, from its end."""
    me = ctx.identity()
    lease = ctx.invocation.whole("--lease", 1, LEASE_LIMIT) or LEASE_SECONDS
    with ctx.client() as client:
        claim = client.extend_lease(delivery_id, lease, token=me.token)
    ctx.out.report(
        [
            "Lease extended.",
            f"Delivery: {claim.delivery_id}",
            f"Message: {claim.message.id}",
            f"Lease until: {when(claim.leased_until)}",
        ],
        as_json(claim),
    )


def _session_line(message: Message) -> list[str]:
    if message.session_id is None:
        return []
    return [f"Session: {message.session_id} (turn {message.session_sequence})"]


def ack(ctx: Context, delivery_id: str) -> None:
    """Record an ACK (``--accepted|--completed|--failed|--rejected ["<text>"]``)."""
    if ctx.invocation.ack is None:
        raise CliError(f"give an ACK status: {', '.join('--' + s for s in ACK_STATUSES)}")
    status, text = ctx.invocation.ack
    me = ctx.identity()
    payload = None if text is None else text_payload(text, agent=True)
    with ctx.client() as client:
        answer = client.ack(delivery_id, status, payload, token=me.token)
    assert answer.ack is not None
    ctx.out.report(
        [
            f"ACK {status}.",
            f"Delivery: {delivery_id}",
            f"Message: {answer.message.id}",
            f"ACK: {answer.ack.id}",
        ],
        as_json(answer),
    )
