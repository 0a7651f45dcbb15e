"""The audit follower in its own process, under a real ``atp serve``: killed, it is
started again and the log goes on whole; the server's end takes it along."""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

import pytest
import trio

from atp.audit._process import _settings, _settings_line
from atp.settings import Settings
from tests.support.helpers import Agent, Api, text
from tests.support.subprocess_server import ServerProcess, client, server_env


@pytest.fixture
def env(store: str, tmp_path: Path, request: pytest.FixtureRequest) -> dict[str, str]:
    return server_env(store, tmp_path, request)


def test_the_child_gets_the_servers_settings_exactly() -> None:
    settings = Settings(
        data_dir=Path("/srv/atp"), database_url="postgresql://atp@db/atp", secret_key="k",
        webhook_max_attempts={"free": 1, "pro": 9}, webhook_retry_delays=(0, 1.5),
        audit_origin="example.com/atp", audit_signing_key="s", log_format="json",
        max_connections=7, audit_checkpoint_interval=0.25,
    )  # fmt: skip
    assert _settings.structure(json.loads(_settings_line(settings)), Settings) == settings


def children(pid: int) -> list[int]:
    """The processes whose parent is ``pid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue  # gone meanwhile
            # "pid (comm) state ppid ...": comm may hold spaces, so split after it.
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


async def follower_of(server: ServerProcess, other_than: int | None = None) -> int:
    """The server's audit follower process (a new one, if ``other_than`` is given)."""
    assert server.process is not None
    with trio.fail_after(15):
        while True:
            found = [p for p in children(server.process.pid) if p != other_than]
            if found:
                assert len(found) == 1, found
                return found[0]
            await trio.sleep(0.05)


async def send_texts(api: Api, sender: Agent, recipient: Agent, label: str) -> list[str]:
    """Five messages, sent in turn; their ids."""
    sent = []
    for i in range(5):
        r = await api.send(sender, recipient, text(f"{label}-{i}"))
        assert r.status_code == 201, r.text
        sent.append(r.json()["message"]["id"])
    return sent


async def events_of(api: Api, token: str) -> list[str]:
    """The ids of the messages the caller's events name, in log order."""
    ids: list[str] = []
    after = None
    while True:
        params = {"limit": 100, **({"after": after} if after else {})}
        r = await api.client.get(
            "/api/events", params=params, headers={"authorization": f"Bearer {token}"}
        )
        assert r.status_code == 200, r.text
        body = r.json()
        records = [e["record"] for e in body["events"]]
        ids += [r["aggregate"]["id"] for r in records if r["type"] == "message.sent"]
        if body["next"] is None:
            return ids
        after = body["next"]


@pytest.mark.slow
async def test_a_killed_follower_starts_again_and_the_log_stays_whole(
    env: dict[str, str], tmp_path: Path
) -> None:
    async with ServerProcess(env, tmp_path) as server:
        await server.start()
        first = await follower_of(server)
        async with client(server) as api:
            sender, recipient = await api.pair()
            sent = await send_texts(api, sender, recipient, "before")
            # Read-your-writes through the pipes: no wait, the events are there.
            assert await events_of(api, sender.token) == sent

            os.kill(first, signal.SIGKILL)
            sent += await send_texts(api, sender, recipient, "after")  # not waiting for the log
            second = await follower_of(server, other_than=first)
            with trio.fail_after(15):
                while (seen := await events_of(api, sender.token)) != sent:
                    assert seen == sent[: len(seen)]  # never out of order, never twice
                    await trio.sleep(0.1)
            metrics = (await api.client.get("/metrics")).text
            assert "\natp_audit_follower_exits_total 1.0\n" in metrics
        assert "the audit follower process exited" in server.log()

        await server.kill()  # SIGKILL: its pipe closes, and the follower goes with it
        with trio.fail_after(15):
            while alive(second):  # noqa: ASYNC110 (another process: nothing to wait on)
                await trio.sleep(0.05)

    done = await trio.run_process(
        [sys.executable, "-m", "atp", "audit", "verify"],
        env=env, cwd=tmp_path, capture_stdout=True, capture_stderr=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, (done.stdout + done.stderr).decode()
    assert done.stdout.startswith(b"ok: ")


@pytest.mark.slow
async def test_the_follower_stops_with_the_server(env: dict[str, str], tmp_path: Path) -> None:
    async with ServerProcess(env, tmp_path) as server:
        await server.start()
        follower = await follower_of(server)
        os.kill(follower, signal.SIGTERM)  # what a service manager sends the whole group
        await trio.sleep(0.5)
        assert alive(follower)  # it waits for the server to close its pipe
        code, _ = await server.stop(signal.SIGTERM, within=15)
        assert code == 0, server.log()
        assert not alive(follower)
