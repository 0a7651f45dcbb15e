"""An A2A 1.0 agent built with the official a2a-sdk server, in its own process: the
recipient that ATP delivers to through an endpoint of kind ``a2a``.

    python -m tests.support.a2a_recipient PORT LOG [--refuse N] [--hang N] [--working]
        [--finish-after SECONDS]

It answers each message with a completed task whose artifact is ``echo: <text>``
(``--working``: a task still working; with ``--finish-after``, one that completes that
many seconds later, as its ``GetTask`` then shows), appends each message it handles to LOG (one
JSON line) and the ``webhook-id`` of every call to LOG.calls, answers 503 to the first
N calls (``--refuse``) and never answers the first N after those (``--hang``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import Any

import uvicorn
from a2a.helpers import new_task_from_user_message, new_text_part
from a2a.server.agent_execution import AgentExecutor, RequestContext
from a2a.server.events import EventQueue
from a2a.server.request_handlers import DefaultRequestHandler
from a2a.server.routes import create_agent_card_routes, create_jsonrpc_routes
from a2a.server.tasks import InMemoryTaskStore, TaskUpdater
from a2a.types import (
    AgentCapabilities,
    AgentCard,
    AgentInterface,
    AgentSkill,
    Artifact,
    TaskState,
)
from google.protobuf.json_format import MessageToDict
from starlette.applications import Starlette
from starlette.responses import JSONResponse


class Echo(AgentExecutor):
    def __init__(
        self, log: Path, working: bool, finish_after: float | None, store: InMemoryTaskStore
    ) -> None:
        self.log = log
        self.working = working
        self.finish_after = finish_after
        self.store = store
        self.later: set[asyncio.Task[None]] = set()

    async def execute(self, context: RequestContext, event_queue: EventQueue) -> None:
        assert context.message is not None
        with self.log.open("a") as out:
            out.write(json.dumps(MessageToDict(context.message)) + "\n")
        task = context.current_task or new_task_from_user_message(context.message)
        await event_queue.enqueue_event(task)
        updater = TaskUpdater(event_queue, task.id, task.context_id)
        if self.working:
            await updater.start_work()
            if self.finish_after is not None:
                finish = self._finish(task.id, context.get_user_input(), context.call_context)
                self.later.add(asyncio.get_running_loop().create_task(finish))
            return
        text = context.get_user_input()
        await updater.add_artifact([new_text_part(f"echo: {text}")], name="reply")
        await updater.complete()

    async def _finish(self, task_id: str, text: str, call_context: Any) -> None:
        assert self.finish_after is not None
        await asyncio.sleep(self.finish_after)
        task = await self.store.get(task_id, call_context)
        assert task is not None
        task.status.state = TaskState.TASK_STATE_COMPLETED
        task.artifacts.append(Artifact(artifact_id="reply", parts=[new_text_part(f"done: {text}")]))
        await self.store.save(task, call_context)

    async def cancel(self, context: RequestContext, event_queue: EventQueue) -> None:
        await TaskUpdater(event_queue, context.task_id, context.context_id).cancel()


class Gate:
    """Notes each call's ``webhook-id``; 503 to the first ``refuse`` calls, no answer to
    the ``hang`` after them; then the app."""

    def __init__(self, app: Any, calls: Path, refuse: int, hang: int) -> None:
        self.app = app
        self.calls = calls
        self.refuse = refuse
        self.hang = hang

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        with self.calls.open("a") as out:
            out.write(headers.get(b"webhook-id", b"-").decode() + "\n")
        if self.refuse > 0:
            self.refuse -= 1
            await JSONResponse({"busy": True}, status_code=503)(scope, receive, send)
        elif self.hang > 0:
            self.hang -= 1
            await asyncio.sleep(3600)
        else:
            await self.app(scope, receive, send)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("log", type=Path)
    parser.add_argument("--refuse", type=int, default=0)
    parser.add_argument("--hang", type=int, default=0)
    parser.add_argument("--working", action="store_true")
    parser.add_argument("--finish-after", type=float, default=None)
    args = parser.parse_args()
    url = f"http://127.0.0.1:{args.port}/"
    card = AgentCard(
        name="echo",
        description="echoes what it is sent",
        version="1.0.0",
        supported_interfaces=[
            AgentInterface(url=url, protocol_binding="JSONRPC", protocol_version="1.0")
        ],
        capabilities=AgentCapabilities(streaming=False),
        default_input_modes=["text/plain"],
        default_output_modes=["text/plain"],
        skills=[AgentSkill(id="echo", name="echo", description="echoes", tags=["echo"])],
    )
    store = InMemoryTaskStore()
    echo = Echo(args.log, args.working, args.finish_after, store)
    handler = DefaultRequestHandler(agent_executor=echo, task_store=store, agent_card=card)
    app = Starlette(routes=[*create_agent_card_routes(card), *create_jsonrpc_routes(handler, "/")])
    calls = args.log.with_name(args.log.name + ".calls")
    gate = Gate(app, calls, args.refuse, args.hang)
    uvicorn.run(gate, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
