"""The request id of the work at hand, as a context variable.

The HTTP edge sets it when a request arrives, so every line logged while serving that
request carries it (``atp.observe`` adds it to each record). Trio copies a task's
context into the tasks it spawns, so tasks started on behalf of a request inherit it;
long-lived tasks that happen to be started from a request (an actor) must clear it,
and work handed to another task (a command to an actor, a webhook attempt) carries the
id along explicitly.
"""

from __future__ import annotations

import secrets
from contextvars import ContextVar

__all__ = ["REQUEST_ID", "current_request_id", "new_request_id"]

REQUEST_ID: ContextVar[str | None] = ContextVar("atp_request_id", default=None)


def current_request_id() -> str | None:
    """The id of the request being served in this context, if any."""
    return REQUEST_ID.get()


def new_request_id() -> str:
    """A fresh request id (20 URL-safe characters), for a request that brought none."""
    return secrets.token_urlsafe(15)
