"""``atp events``, ``atp message history`` and ``atp auditor-key create`` against a
live carrier (the in-process one), outputs checked for secrets by ``cli_process``."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.support.cli_process import Cli, field
from tests.support.helpers import Api


@pytest.fixture
def cli(local_cli: Cli) -> Cli:
    return local_cli


async def test_events_history_and_an_auditor_key(cli: Cli, api: Api, tmp_path: Path) -> None:
    message = field((await cli("send", "beta", "audit me")).out, "Message")
    await cli("inbox", "--as", "beta")

    history = (await cli("message", "history", message)).out.splitlines()
    assert history[0] == f"History of {message}:"
    assert "sent by agt_" in history[1] and "claimed by agt_" in history[2]
    assert "audit me" not in "\n".join(history)

    listed = (await cli("events", "--message", message, "--as", "beta")).out.splitlines()
    assert [line.split("\t")[2] for line in listed[1:]] == ["message.sent", "delivery.leased"]
    page = json.loads((await cli("events", "--limit", "1", "--json")).out)
    assert len(page["events"]) == 1 and page["next"] == str(page["events"][0]["index"])

    key_file = tmp_path / "auditor.key"
    issued = await cli("auditor-key", "create", str(key_file))
    assert field(issued.out, "Key").startswith("audkey_")
    assert os.stat(key_file).st_mode & 0o777 == 0o600
    token = key_file.read_text().strip()
    assert token not in issued.out + issued.err
    r = await api.client.get(
        f"/api/messages/{message}/history", headers={"authorization": f"Bearer {token}"}
    )
    assert r.status_code == 200
    again = await cli("auditor-key", "create", str(key_file), code=1)
    assert again.err.startswith("error:") and "exists" in again.err
