"""The session stream: history, then live events; ``Last-Event-ID`` resumes exactly."""

from __future__ import annotations

import json
import logging
from typing import Any

import httpx
import pytest
import trio

import atp.api._session_stream as session_stream
from atp.actors import Runtime
from atp.errors import StoreUnavailable
from tests.api.test_sessions import answer, open_session, opened, turn
from tests.support.helpers import Api

Event = tuple[str, str, dict[str, Any]]  # (id, name, data)


async def events(
    api: Api,
    token: str,
    session_id: str,
    last_event_id: str | None = None,
    *,
    count: int = 99,
    read: tuple[int, trio.Event] | None = None,
) -> list[Event]:
    """Read up to ``count`` events, or until the server ends the stream; ``read=(n, event)``
    sets ``event`` once ``n`` events have arrived."""
    headers = {"authorization": f"Bearer {token}"}
    if last_event_id is not None:
        headers["last-event-id"] = last_event_id
    found: list[Event] = []
    fields: dict[str, str] = {}
    with trio.fail_after(10):
        path = f"/api/sessions/{session_id}/stream"
        async with api.client.stream("GET", path, headers=headers) as r:
            assert r.status_code == 200, await r.aread()
            assert r.headers["content-type"].startswith("text/event-stream")
            async for line in r.aiter_lines():
                if line.startswith(":"):
                    fields["comment"] = line
                elif line:
                    name, _, value = line.partition(": ")
                    fields[name] = value
                elif "id" in fields:
                    found.append((fields["id"], fields["event"], json.loads(fields["data"])))
                    fields = {}
                    if read is not None and len(found) == read[0]:
                        read[1].set()
                    if len(found) == count:
                        break
    return found


def summary(found: list[Event]) -> list[tuple[str, str, Any]]:
    return [
        (i, name, data["message"]["session_sequence"] if name == "message" else data["status"])
        for i, name, data in found
    ]


async def test_the_stream_replays_a_whole_session_and_ends_with_it(api: Api) -> None:
    alpha, beta, session_id = await opened(api)
    await turn(api, beta, session_id)
    await turn(api, alpha, session_id)
    assert (await answer(api, alpha, session_id, "close")).status_code == 200
    found = await events(api, alpha.token, session_id)  # returns: the stream ended
    assert summary(found) == [
        ("1", "message", 1), ("2", "status", "open"), ("3", "message", 2),
        ("4", "message", 3), ("5", "status", "closed"),
    ]  # fmt: skip
    # Each viewer sees request_url only on messages addressed to it (none here: polling).
    assert found[2][2]["message"]["to"] == alpha.address
    resumed = await events(api, beta.token, session_id, last_event_id="3")
    assert summary(resumed) == [("4", "message", 3), ("5", "status", "closed")]


async def test_the_stream_follows_new_turns_live(api: Api) -> None:
    alpha, beta, session_id = await opened(api)
    found: list[Event] = []

    history = trio.Event()

    async def follow() -> None:
        found.extend(await events(api, beta.token, session_id, count=4, read=(2, history)))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(follow)
        await history.wait()  # connected, and past the history: the next turns are live
        await turn(api, alpha, session_id, "live one")
        await turn(api, alpha, session_id, "live two")
    assert summary(found) == [
        ("1", "message", 1), ("2", "status", "open"), ("3", "message", 2), ("4", "message", 3),
    ]  # fmt: skip


async def test_an_idle_stream_gets_heartbeats(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(session_stream, "HEARTBEAT_SECONDS", 0.05)
    alpha, beta = await api.pair()
    session_id = (await open_session(api, alpha, beta))["session"]["id"]
    headers = {"authorization": f"Bearer {alpha.token}", "last-event-id": "1"}
    with trio.fail_after(10):
        path = f"/api/sessions/{session_id}/stream"
        async with api.client.stream("GET", path, headers=headers) as r:
            assert r.status_code == 200
            async for line in r.aiter_lines():
                if line == ": heartbeat":
                    break
            else:
                pytest.fail("the stream ended without a heartbeat")


async def test_bad_stream_requests(api: Api) -> None:
    alpha, beta = await api.pair()
    outsider = await api.agent(name="outsider")
    session_id = (await open_session(api, alpha, beta))["session"]["id"]
    path = f"/api/sessions/{session_id}/stream"
    r = await api.client.get(path, headers={"authorization": f"Bearer {outsider.token}"})
    assert r.status_code == 404
    bad = {"authorization": f"Bearer {alpha.token}", "last-event-id": "soon"}
    r = await api.client.get(path, headers=bad)
    assert (r.status_code, r.json()["error"]["code"]) == (422, "invalid_request")
    assert (await api.client.get(path)).status_code == 401


async def test_a_stream_client_hanging_up_is_fine(api: Api) -> None:
    alpha, _beta, session_id = await opened(api)
    assert len(await events(api, alpha.token, session_id, count=1)) == 1
    r: httpx.Response = await turn(api, alpha, session_id)
    assert r.status_code == 201  # the carrier carries on


async def test_a_stream_ends_quietly_when_the_store_goes_away(
    api: Api, runtime: Runtime, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(session_stream, "HEARTBEAT_SECONDS", 0.05)  # it looks again soon
    alpha, beta = await api.pair()
    session_id = (await open_session(api, alpha, beta))["session"]["id"]
    headers = {"authorization": f"Bearer {alpha.token}", "last-event-id": "1"}
    with trio.fail_after(10):
        path = f"/api/sessions/{session_id}/stream"
        async with api.client.stream("GET", path, headers=headers) as r:
            assert r.status_code == 200

            async def away(*args: object) -> None:
                raise StoreUnavailable("the store is away")  # as the bridge refuses a call

            monkeypatch.setattr(runtime.ledger, "events_after", away)
            lines = [line async for line in r.aiter_lines()]  # the server ends the stream
    assert all(line == ": heartbeat" or not line for line in lines)
    # The outage is the store record's to log (once), not one error per open stream.
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
