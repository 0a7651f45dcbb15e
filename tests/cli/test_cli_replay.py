"""``atp message replay`` and ``atp replay start|show|cancel`` against a live carrier (the
in-process one), every output checked for secrets by ``cli_process``."""

from __future__ import annotations

import io
import json
from types import SimpleNamespace
from typing import Any

import pytest

from atp.cli import _replays
from atp.cli._output import Output
from atp.client import Replay
from tests.cli.test_cli_json import public
from tests.support.cli_process import Cli, field
from tests.support.helpers import Api
from tests.support.receivers import Receiver


@pytest.fixture
def cli(local_cli: Cli, monkeypatch: pytest.MonkeyPatch) -> Cli:
    monkeypatch.setattr(_replays, "POLL_SECONDS", 0.05)  # follow without the 1 s pauses
    return local_cli


async def handed_out(cli: Cli, text: str) -> tuple[str, str]:
    """A message from alpha that beta claimed and ACKed: (message id, delivery id)."""
    message_id = field((await cli("send", "beta", text)).out, "Message")
    claimed = (await cli("inbox", "--as", "beta")).out
    assert field(claimed, "Message") == message_id
    delivery_id = field(claimed, "Delivery")
    await cli("ack", delivery_id, "--completed", "--as", "beta")
    return message_id, delivery_id


async def test_a_message_replayed_to_the_inbox_is_claimed_once_more(cli: Cli) -> None:
    message_id, delivery_id = await handed_out(cli, "again")
    started = (await cli("message", "replay", message_id, "--target", "inbox", "--as", "beta")).out
    assert started.splitlines()[0] == "Replay started."
    assert field(started, "Replay").startswith("rpl_") and field(started, "Target") == "inbox"
    assert field(started, "Message") == message_id and field(started, "Rate") == "-"
    assert field(started, "Recipient").startswith("beta (atp://agent/agt_")
    again = (await cli("inbox", "--as", "beta")).out
    assert (field(again, "Message"), field(again, "Delivery")) == (message_id, delivery_id)
    assert (await cli("inbox", "--as", "beta")).out == "No pending deliveries.\n"
    shown = (await cli("replay", "show", field(started, "Replay"), "--follow", "--as", "beta")).out
    assert field(shown, "State") == "completed" and field(shown, "Selection") == "one message"
    assert field(shown, "Done") == "1/1 (1 delivered, 0 failed, 0 skipped)"

    refused = await cli("message", "replay", message_id, "--as", "beta", code=1)  # no endpoint
    assert refused.err.startswith("error: server returned 409 webhook_endpoint_inactive")
    unread = field((await cli("send", "beta", "unread")).out, "Message")
    never = await cli("message", "replay", unread, "--target", "inbox", "--as", "beta", code=1)
    assert never.err.startswith("error: server returned 409 message_not_delivered")
    other = await cli("message", "replay", message_id, "--target", "inbox", code=1)  # alpha
    assert other.err.startswith("error: server returned 404 not_found")


async def test_a_filtered_replay_is_followed_to_its_end_and_cannot_be_cancelled_then(
    cli: Cli, api: Api
) -> None:
    await handed_out(cli, "one")
    await handed_out(cli, "two")
    started = await cli(
        "replay", "start", "--target", "inbox", "--status", "completed", "--status", "failed",
        "--sender", "alpha", "--since", "2000-01-01T00:00:00+01:00", "--rate", "20",
        "--name", "completed ones", "--as", "beta",
    )  # fmt: skip
    replay_id = field(started.out, "Replay")
    assert field(started.out, "Name") == "completed ones" and field(started.out, "Rate") == (
        "20 per second"
    )
    assert field(started.out, "Selection") == (
        "sent since 1999-12-31T23:00:00.000000Z, status completed or failed, from alpha"
    )
    assert field(started.out, "Follow") == f"atp replay show {replay_id} --follow"
    followed = (await cli("replay", "show", replay_id, "--follow", "--as", "beta")).out
    assert field(followed, "State") == "completed"
    assert field(followed, "Done") == "2/2 (2 delivered, 0 failed, 0 skipped)"
    assert field(followed, "Finished") != "-"
    lines = [
        json.loads(line) for line in (await cli("inbox", "--as", "beta", "--json")).out.split()
    ]
    assert lines[0]["replay_id"] == replay_id  # handed out once more, with the replay's id

    refused = await cli("replay", "cancel", replay_id, "--as", "beta", code=1)
    assert refused.err.startswith("error: server returned 409 replay_finished")
    printed = json.loads((await cli("replay", "show", replay_id, "--json", "--as", "beta")).out)
    token = cli.state("credentials")["agents"]["beta"]["agent_token"]
    r = await api.client.get(
        f"/api/replays/{replay_id}", headers={"authorization": f"Bearer {token}"}
    )
    assert printed == public(r.json())
    hidden = await cli("replay", "show", replay_id, code=1)  # alpha did not start it
    assert hidden.err.startswith("error: server returned 404 not_found")


async def test_a_running_replay_is_cancelled(cli: Cli) -> None:
    await handed_out(cli, "one")
    await handed_out(cli, "two")
    started = await cli("replay", "start", "--target", "inbox", "--rate", "0.001", "--as", "beta")
    assert field(started.out, "Selection") == "every message handed out"
    replay_id = field(started.out, "Replay")
    cancelled = (await cli("replay", "cancel", replay_id, "--as", "beta")).out
    assert cancelled.splitlines()[0] == "Replay cancelled."
    assert field(cancelled, "State") == "cancelled" and field(cancelled, "Finished") != "-"
    assert field((await cli("replay", "cancel", replay_id, "--as", "beta")).out, "State") == (
        "cancelled"
    )
    followed = await cli("replay", "show", replay_id, "--follow", "--json", "--as", "beta")
    assert json.loads(followed.out)["replay"]["state"] == "cancelled"  # one line: not running


async def test_a_pushed_message_is_pushed_once_more(cli: Cli, receiver: Receiver) -> None:
    await cli("webhook", "set", receiver.url(), "--as", "beta")
    message_id = field((await cli("send", "beta", "push me")).out, "Message")
    await receiver.wait_for(1)
    started = (await cli("message", "replay", message_id, "--as", "beta")).out
    assert field(started, "Target") == "webhook"
    first, again = await receiver.wait_for(2)
    assert again.headers["atp-replay-id"] == field(started, "Replay")
    assert again.headers["webhook-id"] == first.headers["webhook-id"]


@pytest.mark.parametrize("store", ["sqlite"])  # refused by the CLI: no store is reached
@pytest.mark.parametrize(
    ("option", "error"),
    [
        (["--status", "nope"], "--status must be one of queued, delivered,"),
        (["--rate", "0"], "--rate must be a number above 0, at most 1000"),
        (["--rate", "1001"], "--rate must be a number above 0, at most 1000"),
        (["--since", "yesterday"], "--since is not an RFC 3339 time: 'yesterday'"),
        (["--until", "2026-05-27T00:00:00"], "--until needs its offset (Z or +hh:mm)"),
        (["--target", "elsewhere"], "--target must be webhook or inbox"),
        (["--sender", "nobody"], "unknown agent nobody."),
        (["--name", "x" * 201], "--name must be 1 to 200 characters"),
    ],
)
async def test_a_bad_option_is_refused_before_anything_is_sent(
    cli: Cli, option: list[str], error: str
) -> None:
    refused = await cli("replay", "start", *option, "--as", "beta", code=1)
    assert refused.err.startswith(f"error: {error}"), refused.err


def progress(state: str, done: int) -> Replay:
    counts = {"delivered": done, "failed": 0, "skipped": 0}
    return Replay.of(
        {"replay": {
            "id": "rpl_1", "name": None, "agent_id": "agt_b", "target": "inbox", "filter": {},
            "rate_per_second": 1.0, "state": state, "total": 2, "done": done, **counts,
            "created_at": "2026-05-27T12:00:00.000000Z", "finished_at": None,
        }}
    )  # fmt: skip


@pytest.mark.parametrize("json_mode", [False, True])
def test_following_prints_each_step_once_then_returns_the_end(
    json_mode: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_replays, "POLL_SECONDS", 0)
    answers = [progress("running", 0), progress("running", 1), progress("completed", 2)]

    def replay(replay_id: str, *, token: str) -> Replay:
        assert (replay_id, token) == ("rpl_1", "agk_beta")
        return answers.pop(0)

    stream = io.StringIO()
    ctx: Any = SimpleNamespace(out=Output(json_mode, stream))
    client: Any = SimpleNamespace(replay=replay)
    end = _replays._follow(ctx, client, progress("running", 0), "agk_beta")
    assert end.state == "completed" and answers == []
    printed = stream.getvalue().splitlines()
    if json_mode:
        assert [json.loads(line)["replay"]["done"] for line in printed] == [0, 1]
    else:
        assert printed == [
            "rpl_1: 0/2 (0 delivered, 0 failed, 0 skipped)",
            "rpl_1: 1/2 (1 delivered, 0 failed, 0 skipped)",
        ]


def test_the_cli_checks_the_statuses_and_targets_the_carrier_takes() -> None:
    from typing import get_args, get_type_hints

    from atp.wire import REPLAY_STATUSES, ReplayBody

    assert sorted(_replays.STATUSES) == sorted(REPLAY_STATUSES)
    assert sorted(_replays.TARGETS) == sorted(get_args(get_type_hints(ReplayBody)["target"]))
