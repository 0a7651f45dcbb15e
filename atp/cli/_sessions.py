"""Ordered sessions: ``session open|accept|reject|send|close|show|list``.

Accept and reject carry fixed idempotency keys (``cli-session-accept-<id>``): the
answer to a session is given once, so running the command again only replays it.
"""

from __future__ import annotations

import attrs

from atp.cli._context import Context, text_payload
from atp.cli._output import CliError, as_json, first_delivery, table, when
from atp.cli._transcript import Transcript, sort_key
from atp.client import Session, calls

__all__ = [
    "PAGE_LIMIT",
    "STATUSES",
    "accept",
    "close",
    "list_sessions",
    "open_session",
    "reject",
    "send",
    "session_lines",
    "show",
]

PAGE_LIMIT = 200  # the most the carrier answers per page
STATUSES = ("pending", "open", "rejected", "failed", "closed")


def open_session(ctx: Context, recipient: str, text: str) -> None:
    me = ctx.identity()
    address, is_alias = ctx.resolve(recipient)
    with ctx.client() as client:
        view = client.open_session(address, text_payload(text), token=me.token)
    ctx.out.report(
        [
            "Session opened.",
            f"Sender: {me.alias} ({me.address})",
            f"Recipient: {recipient}",
            f"Resolved address: {address}" if is_alias else f"Recipient address: {address}",
            f"Session: {view.session.id}",
            f"Status: {view.session.status}",
            f"Opening message: {view.session.opening_message_id}",
            f"Opening delivery: {first_delivery(view.message_status) or 'none'}",
        ],
        as_json(view),
    )


def accept(ctx: Context, session_id: str) -> None:
    _answer(ctx, session_id, accept=True, reason=None)


def reject(ctx: Context, session_id: str, reason: str) -> None:
    _answer(ctx, session_id, accept=False, reason=reason)


def _answer(ctx: Context, session_id: str, accept: bool, reason: str | None) -> None:
    me = ctx.identity()
    verb = "accept" if accept else "reject"
    payload = None
    if reason is not None:
        payload = text_payload(
            reason, agent=True, message_id=f"cli-msg-session-{verb}-{session_id}"
        )
    call = calls.answer_session(me.token, session_id, accept, payload)
    call = attrs.evolve(call, idempotency_key=f"cli-session-{verb}-{session_id}")
    with ctx.client() as client:
        view = client.call(call)
    ack = view.message_status.ack if view.message_status else None
    ctx.out.report(
        [
            f"Session {verb}ed.",
            f"Session: {view.session.id}",
            f"Status: {view.session.status}",
            f"Opening delivery: {ack.delivery_id if ack else '-'}",
            f"ACK: {ack.id if ack else '-'}",
        ],
        as_json(view),
    )


def send(ctx: Context, session_id: str, text: str) -> None:
    me = ctx.identity()
    with ctx.client() as client:
        view = client.send_turn(session_id, text_payload(text), token=me.token)
    status = view.message_status
    assert status is not None
    ctx.out.report(
        [
            "Session message sent.",
            f"Session: {view.session.id}",
            f"Sequence: {status.message.session_sequence}",
            f"Message: {status.message.id}",
            f"Delivery: {first_delivery(view.message_status) or 'none'}",
        ],
        as_json(view),
    )


def close(ctx: Context, session_id: str) -> None:
    me = ctx.identity()
    with ctx.client() as client:
        view = client.call(calls.close_session(me.token, session_id))
    ctx.out.report(
        ["Session closed.", f"Session: {view.session.id}", f"Status: {view.session.status}"],
        as_json(view),
    )


def session_lines(ctx: Context, session: Session) -> list[str]:
    return [
        f"Session: {session.id}",
        f"Status: {session.status}",
        f"Initiator: {ctx.decorated(session.initiator)}",
        f"Recipient: {ctx.decorated(session.recipient)}",
        f"Last sequence: {session.last_sequence}",
        "",
    ]


def show(ctx: Context, session_id: str) -> None:
    me = ctx.identity()
    with ctx.client() as client:
        view = client.session(session_id, token=me.token)
    rows = sorted(view.messages, key=sort_key)
    lines = session_lines(ctx, view.session)
    if not rows:
        lines.append("No session messages.")
    else:
        table = Transcript(ctx.short, rows, ctx.config.aliases)
        lines.append(table.header())
        for row in rows:
            lines.extend(table.row(row))
    ctx.out.report(lines, as_json(view))


def list_sessions(ctx: Context) -> None:
    """The alias's sessions, oldest first (``--status``, ``--after``, ``--limit``)."""
    me = ctx.identity()
    options = ctx.invocation.options
    limit = ctx.invocation.whole("--limit", 1, PAGE_LIMIT)
    status = options.get("--status")
    if status is not None and status not in STATUSES:
        raise CliError(f"--status must be one of {', '.join(STATUSES)}")
    with ctx.client() as client:
        page = client.sessions(status, options.get("--after"), limit, token=me.token)
    if not page.sessions:
        lines = ["No sessions."]
    else:
        header = ("Session", "Status", "Initiator", "Recipient", "Turns", "Created")
        rows = [
            (
                s.id,
                s.status,
                ctx.short(s.initiator),
                ctx.short(s.recipient),
                str(s.last_sequence),
                when(s.created_at),
            )
            for s in page.sessions
        ]
        lines = table(header, rows, aligned=ctx.out.is_terminal)
    if page.next_after is not None:
        lines.append(f"More: atp session list --after {page.next_after}")
    ctx.out.report(lines, as_json(page))
