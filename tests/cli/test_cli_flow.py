"""The ``atp`` CLI end to end: CLI processes against a carrier process, on both stores.

The flow is the reference smoke test's: two aliases, a message (sent, queued,
claimed, ACKed, delivered and completed), then a session (opened, accepted, turns
both ways, shown). Every output is checked for secrets (``cli_process``).
"""

from __future__ import annotations

import json
import stat

import pytest

from tests.support.cli_process import Cli, field
from tests.support.subprocess_server import ServerProcess

pytestmark = pytest.mark.slow
# The flow runs on both stores; the rest is about the CLI itself, not the store.
SQLITE_ONLY = pytest.mark.parametrize("store", ["sqlite"])


async def test_the_two_agent_flow(cli: Cli, server: ServerProcess) -> None:
    # init stored the server without the trailing slash, and the aliases.
    config = (cli.home / "config.toml").read_text()
    assert f'server_url = "{server.base_url}"' in config and 'active_alias = "alpha"' in config
    listed = (await cli("agent", "list")).out.splitlines()
    assert listed[0] == "Alias\tAddress" and [r.split("\t")[0] for r in listed[1:]] == [
        "alpha", "beta",
    ]  # fmt: skip
    me = await cli("whoami")
    assert field(me.out, "Alias") == "alpha"

    sent = await cli("send", "beta", "hello   beta,\n how are you?")
    assert field(sent.out, "Resolved address") == listed[2].split("\t")[1]
    message_id = field(sent.out, "Message")
    assert field(sent.out, "Delivery").startswith("none yet")
    queued = await cli("message", "status", message_id)
    assert field(queued.out, "Carrier status") == "queued"
    assert "Deliveries: none" in queued.out and "hello" not in queued.out  # never the payload

    claimed = await cli("inbox", "--as", "beta")
    delivery_id = field(claimed.out, "Delivery")
    assert field(claimed.out, "Message") == message_id
    assert field(claimed.out, "Text") == "hello beta, how are you?"
    assert field(claimed.out, "Sender").startswith("alpha (atp://agent/")
    acked = await cli("ack", delivery_id, "--completed", "fine, thanks", "--as", "beta")
    assert acked.out.startswith("ACK completed.") and field(acked.out, "ACK").startswith("ack_")
    done = await cli("message", "status", message_id)
    assert field(done.out, "Carrier status") == "delivered"
    assert field(done.out, "ACK status") == "completed"
    assert f"- Delivery: {delivery_id}" in done.out and "  Mode: polling" in done.out
    assert (await cli("--as", "beta", "inbox")).out == "No pending deliveries.\n"

    opened = await cli("session", "open", "beta", "shall we plan?")
    session_id = field(opened.out, "Session")
    assert field(opened.out, "Status") == "pending"
    accepted = await cli("session", "accept", session_id, "--as", "beta")
    assert field(accepted.out, "Status") == "open"
    again = await cli("session", "accept", session_id, "--as", "beta")  # replayed, not refused
    assert field(again.out, "ACK") == field(accepted.out, "ACK")
    reply = await cli("session", "send", session_id, "yes, from beta", "--as", "beta")
    assert field(reply.out, "Sequence") == "2"
    answer = await cli("session", "send", session_id, "good, from alpha")
    assert field(answer.out, "Sequence") == "3"

    shown = (await cli("session", "show", session_id)).out
    assert field(shown, "Status") == "open" and field(shown, "Last sequence") == "3"
    header, *rows = shown.split("\n\n", 1)[1].splitlines()
    assert header.split() == ["Seq", "Time", "Sender", "Recipient", "Delivery", "ACK", "Message"]
    assert [[row.split()[i] for i in (0, 2, 3)] for row in rows] == [
        ["1", "alpha", "beta"], ["2", "beta", "alpha"], ["3", "alpha", "beta"],
    ]  # fmt: skip
    assert rows[0].split()[4:6] == ["delivered", "accepted"] and rows[1].endswith("from beta")

    closed = await cli("session", "close", session_id, "--as", "beta")
    assert field(closed.out, "Status") == "closed"
    assert len(cli.runs) == 19  # every one of them was checked for secrets


@SQLITE_ONLY
async def test_state_files_and_idempotent_agent_create(cli: Cli) -> None:
    assert stat.S_IMODE(cli.home.stat().st_mode) == 0o700
    for name in ("config.toml", "credentials.toml"):
        assert stat.S_IMODE((cli.home / name).stat().st_mode) == 0o600
    assert sorted(p.name for p in cli.home.iterdir()) == ["config.toml", "credentials.toml"]
    before = (cli.home / "credentials.toml").read_text()
    first = (await cli("agent", "list", "--json")).out
    # The key is fixed per alias: running it again replays the same agent and key.
    again = await cli("agent", "create", "beta")
    assert field(again.out, "Address") == json.loads(first)["agents"][1]["address"]
    assert (cli.home / "credentials.toml").read_text() == before
    refused = await cli("init", code=1)
    assert "atp init --force" in refused.err
    assert (cli.home / "credentials.toml").read_text() == before


@SQLITE_ONLY
async def test_json_output_and_errors(cli: Cli) -> None:
    # --json prints the carrier's answer under the API's names (tests/cli/test_cli_json.py).
    sent = json.loads((await cli("send", "beta", "as json", "--json")).out)
    assert sent["carrier_status"] == "queued"
    claim = json.loads((await cli("inbox", "--json", "--as", "beta")).out)
    assert claim["message"]["payload"]["parts"] == [{"text": "as json"}]
    message_id = sent["message"]["id"]
    status = json.loads((await cli("message", "status", message_id, "--json")).out)
    assert status["deliveries"][0]["status"] == "leased"
    ack = json.loads((await cli("ack", claim["id"], "--rejected", "--json", "--as", "beta")).out)
    assert ack["ack"]["status"] == "rejected"
    assert ack["message_status"]["ack_status"] == "rejected"
    assert json.loads((await cli("inbox", "--json", "--as", "beta")).out) == {"delivery": None}

    unknown = await cli("send", "nobody", "x", code=1)
    assert unknown.err.startswith("error: unknown recipient nobody. Use a local alias or atp://")
    missing = await cli("message", "status", "msg_AAAAAAAAAAAAAAAAAAAAAA", code=1)
    assert missing.err.startswith("error: server returned 404 not_found: ")
    twice = await cli("ack", claim["id"], "--completed", "--as", "beta", code=1)
    assert twice.err.startswith("error: server returned 409 terminal_ack_status")
    assert (await cli("frobnicate", code=1)).err == "error: unknown command. Run `atp help`.\n"
    assert "usage: atp send" in (await cli("send", "beta", code=1)).err
    assert "no stored credentials for alias" in (await cli("whoami", "--as", "gamma", code=1)).err
    assert (await cli("ack", claim["id"], code=1)).err.startswith("error: give an ACK")
    assert "session watch" in (await cli("help")).out


@SQLITE_ONLY
async def test_the_demo_runs_the_reference_flow(cli: Cli, server: ServerProcess) -> None:
    shown = (await cli("demo", "--server", server.base_url, "--delay", "0")).out
    assert "carrier status delivered, ACK status completed" in shown
    assert "session status open" in shown
    table = shown.split("8. ")[1].splitlines()[2:5]
    assert [(r.split()[0], r.split()[2]) for r in table] == [
        ("1", "planner"), ("2", "planner"), ("3", "researcher"),
    ]  # fmt: skip
    lines = (await cli("demo", "--delay", "0", "--json")).out.splitlines()
    steps = [json.loads(line) for line in lines]
    assert steps[-1]["sequences"] == [1, 2, 3] and steps[0]["server_url"] == server.base_url
