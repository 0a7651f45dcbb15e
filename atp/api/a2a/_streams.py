"""A task's life as A2A stream responses (``SendStreamingMessage``, ``SubscribeToTask``).

The first response is the task as it stands; then one ``statusUpdate`` each time its
status changes (a completing ACK's answer comes first as an ``artifactUpdate``), until
the task ends, the client leaves or the carrier stops. A comment line keeps an idle
connection open. Each binding wraps a response its own way (``wrap``); an error met on
the way ends the stream with one ``error`` event.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

from atp.actors import Carrier
from atp.api.a2a._errors import A2AError, from_carrier
from atp.api.a2a._tasks import follow
from atp.domain import Message
from atp.errors import AtpError
from atp.wire import status_update, task_document

__all__ = ["HEARTBEAT_SECONDS", "sse", "stream_responses"]

HEARTBEAT_SECONDS = 15.0
_COMPACT = json.JSONEncoder(separators=(",", ":"))


async def stream_responses(
    rt: Carrier, message: Message, history_length: int | None
) -> AsyncIterator[dict[str, Any] | None]:
    """StreamResponse objects for the task of ``message``; None for a heartbeat."""
    last: dict[str, Any] | None = None
    async for current in follow(rt, message, HEARTBEAT_SECONDS):
        task = task_document(current, history_length)
        status = task["status"]
        if last is None:
            yield {"task": task}
        elif status == last:
            yield None
            continue
        else:
            ids = {"taskId": task["id"], "contextId": task["contextId"]}
            for artifact in task.get("artifacts", []):
                yield {"artifactUpdate": {**ids, "artifact": artifact, "lastChunk": True}}
            yield status_update(task)
        last = status


async def sse(
    rt: Carrier,
    message: Message,
    history_length: int | None,
    wrap: Callable[[dict[str, Any]], dict[str, Any]],
    wrap_error: Callable[[A2AError], dict[str, Any]],
) -> AsyncIterator[bytes]:
    """The stream as Server-Sent Events, each response wrapped by its binding."""
    try:
        async for response in stream_responses(rt, message, history_length):
            if response is None:
                yield b": heartbeat\n\n"
            else:
                yield b"data: " + _COMPACT.encode(wrap(response)).encode() + b"\n\n"
    except AtpError as error:  # the store went away mid-stream, say
        body = _COMPACT.encode(wrap_error(from_carrier(error))).encode()
        yield b"event: error\ndata: " + body + b"\n\n"
