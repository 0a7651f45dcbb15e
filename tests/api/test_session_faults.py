"""Faults in the middle of session sends lose and duplicate nothing.

Two faults are injected, at random, into real sends: the recipient's mailbox crashes
after numbering the turn on the lent session but before its commit (nothing of that
send commits, and the session must forget the number), or the session actor
crashes right after the mailbox committed the turn (the client sees an error for a
turn that exists). Clients retry with the same idempotency key, as they should. In
the end every key has exactly one turn and the sequence has no gap.
"""

from __future__ import annotations

import random
from typing import Any

import pytest
import trio

from atp.actors import MailboxActor, SessionActor
from atp.actors.commands import SendMessage, SendTurn
from tests.api.test_sessions import opened
from tests.support.helpers import Api, text


async def test_crashes_mid_send_lose_and_duplicate_nothing(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    alpha, beta, session_id = await opened(api)
    chance = random.Random(7)
    crashes = {"mailbox": 0, "session": 0}
    mailbox_handle, session_handle = MailboxActor.handle, SessionActor.handle

    async def flaky_mailbox(self: MailboxActor, command: Any) -> Any:
        reply = await mailbox_handle(self, command)  # the lent session has its new turn
        if isinstance(command, SendMessage) and command.session and chance.random() < 0.25:
            crashes["mailbox"] += 1
            raise RuntimeError("injected: mailbox crashed before its commit")
        return reply

    async def flaky_session(self: SessionActor, command: Any) -> Any:
        reply = await session_handle(self, command)
        if isinstance(command, SendTurn) and chance.random() < 0.25:
            crashes["session"] += 1
            raise RuntimeError("injected: session actor crashed after the commit")
        return reply

    monkeypatch.setattr(MailboxActor, "handle", flaky_mailbox)
    monkeypatch.setattr(SessionActor, "handle", flaky_session)
    by_key: dict[str, int] = {}

    async def send(i: int) -> None:
        key, sender = f"turn-{i}", alpha if i % 2 else beta
        path = f"/api/sessions/{session_id}/messages"
        for _ in range(50):
            r = await api.post(path, sender.token, {"payload": text(f"m{i}", f"t{i}")}, key=key)
            if r.status_code == 201:
                by_key[key] = r.json()["message_status"]["message"]["session_sequence"]
                return
            assert r.status_code in (409, 500), r.text  # in progress, or the injected crash
            await trio.sleep(0.02)
        pytest.fail(f"{key} never succeeded")

    async with trio.open_nursery() as nursery:
        for i in range(16):
            nursery.start_soon(send, i)
    monkeypatch.undo()

    assert crashes["mailbox"] > 0 and crashes["session"] > 0
    assert sorted(by_key.values()) == list(range(2, 18))
    shown = (await api.get(f"/api/sessions/{session_id}", alpha.token)).json()
    assert shown["session"]["last_sequence"] == 17
    assert [m["message"]["session_sequence"] for m in shown["messages"]] == list(range(1, 18))
    texts = sorted(m["message"]["payload"]["parts"][0]["text"] for m in shown["messages"][1:])
    assert texts == sorted(f"t{i}" for i in range(16))
