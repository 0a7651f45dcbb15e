"""``session watch``: a session's transcript as it grows, until the session ends.

It follows the session's stream, which pushes each turn and status change the moment
it is recorded and resumes where it left off after a lost connection. Against a
carrier without streams (the reference answers 404 there) it polls the transcript
once a second instead and prints each row that is new or whose delivery or ACK state
changed, as the reference CLI does.
"""

from __future__ import annotations

import time

from atp.cli._context import Context
from atp.cli._output import as_json, when
from atp.cli._sessions import session_lines
from atp.cli._transcript import Transcript, delivery_state, sort_key
from atp.client import FINAL_SESSION_STATUSES, Client, MessageStatus
from atp.errors import NotFound

__all__ = ["POLL_SECONDS", "watch"]

POLL_SECONDS = 1.0


class _Printer:
    """Prints rows and status changes, each (row, state) and each status only once."""

    def __init__(self, ctx: Context, table: Transcript) -> None:
        self._ctx = ctx
        self._table = table
        self._shown: dict[str, tuple[str, str | None]] = {}
        self._status: str | None = None

    def message(self, status: MessageStatus) -> None:
        state = (delivery_state(status), status.ack_status)
        if self._shown.get(status.message.id) == state:
            return
        self._shown[status.message.id] = state
        data = {"event": "message", "message_status": as_json(status)}
        self._ctx.out.report(self._table.row(status), data)

    def status(self, status: str, at: str) -> None:
        if status == self._status:
            return
        self._status = status
        self._ctx.out.report(
            [f"Status: {status} ({at})"], {"event": "status", "status": status, "at": at}
        )


def watch(ctx: Context, session_id: str) -> None:
    me = ctx.identity()
    with ctx.client() as client:
        view = client.session(session_id, token=me.token)
        table = Transcript(ctx.short, view.messages, ctx.config.aliases)
        ctx.out.report(
            [*session_lines(ctx, view.session), table.header()],
            {"event": "session", "session": as_json(view)["session"]},
        )
        printer = _Printer(ctx, table)
        try:
            for event in client.follow_session(session_id, token=me.token):
                if event.message is not None:
                    printer.message(event.message)
                elif event.status is not None:
                    printer.status(event.status, when(event.at))
            return
        except NotFound:
            pass  # no streams on this carrier: poll
        _poll(client, session_id, me.token, printer)


def _poll(client: Client, session_id: str, token: str, printer: _Printer) -> None:
    while True:
        view = client.session(session_id, token=token)
        for status in sorted(view.messages, key=sort_key):
            printer.message(status)
        session = view.session
        if session.status != "pending":  # as on the stream: the opening row says it
            printer.status(session.status, when(session.terminal_at or session.opened_at))
        if session.status in FINAL_SESSION_STATUSES:
            return
        time.sleep(POLL_SECONDS)
