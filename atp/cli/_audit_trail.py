"""``events [--follow]`` and ``message history <message-id>``: the audit trail as the
alias may see it (docs/audit.md). Records hold no payload and no secret."""

from __future__ import annotations

import os
import time
from pathlib import Path

from atp.cli._context import Context
from atp.cli._output import CliError, as_json, table
from atp.client import AuditEvent

__all__ = ["FOLLOW_SECONDS", "auditor_key_create", "events", "message_history"]

FOLLOW_SECONDS = 1.0  # between polls while following
_PAGE = 1000


def _row(event: AuditEvent) -> tuple[str, ...]:
    record = event.record
    aggregate = record["aggregate"]
    return (str(event.index), record["at"], record["type"], record["actor"], aggregate["id"])


_HEADER = ("Index", "At", "Type", "Actor", "About")


def events(ctx: Context) -> None:
    """A page of events after ``--after`` (filters: ``--type``, ``--message``,
    ``--session``, ``--agent``); with ``--follow``, every new one as it comes."""
    me = ctx.identity()
    options = ctx.invocation.options
    after = options.get("--after")
    limit = ctx.invocation.whole("--limit", 1, _PAGE)
    follow = "--follow" in ctx.invocation.flags
    filters = {
        "type": options.get("--type"),
        "message": options.get("--message"),
        "session": options.get("--session"),
        "agent": options.get("--agent"),
    }
    with ctx.client() as client:
        page = client.events(after, limit, token=me.token, **filters)
        if not follow:
            lines = table(_HEADER, [_row(e) for e in page.events], aligned=ctx.out.is_terminal)
            if page.next is not None:
                lines.append(f"More: atp events --after {page.next}")
            ctx.out.report(lines or ["No events."], as_json(page))
            return
        try:
            while True:
                for event in page.events:
                    ctx.out.report(
                        ["  ".join(_row(event))],
                        {
                            "index": event.index,
                            "record": event.record,
                            "leaf_hash": event.leaf_hash,
                        },
                    )
                    after = str(event.index)
                if page.next is None:
                    time.sleep(FOLLOW_SECONDS)
                page = client.events(after, _PAGE, token=me.token, **filters)
        except KeyboardInterrupt:
            return


def message_history(ctx: Context, message_id: str) -> None:
    """The message's timeline, one line per record."""
    me = ctx.identity()
    with ctx.client() as client:
        found = client.message_history(message_id, token=me.token)
    lines = [f"History of {found.message_id}:"]
    lines += [
        f"  {entry.event.index:>6}  {entry.event.record['at']}  {entry.description}"
        for entry in found.history
    ]
    ctx.out.report(lines, as_json(found))


def auditor_key_create(ctx: Context, path: str) -> None:
    """Issue a read-only auditor key of the account and write it to ``path`` (0600), for
    handing to an auditor: it is a secret, never printed."""
    target = Path(path)
    credentials = ctx.home.credentials()
    with ctx.client() as client:
        key = client.issue_auditor_key(token=credentials.account_token)
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise CliError(f"{path} exists: give a new file for the key") from None
    with os.fdopen(fd, "w") as f:
        f.write(key.token + "\n")
    ctx.out.report(
        ["Auditor key issued.", f"Key: {key.id} (role: auditor)", f"Token written to: {path}"],
        {"id": key.id, "role": key.role, "token_file": str(target)},
    )
