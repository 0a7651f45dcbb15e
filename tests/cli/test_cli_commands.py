"""The commands beyond the reference flow, run by ``main()`` against a live carrier.

Agents and key rotation, lease extension, sender policies, the session list, the
carrier's probes, webhooks and dead letters. Every output of every run is checked for
secrets (``cli_process``), including rotated-away keys, the stored webhook secret and
the push credentials given on standard input.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
import trio

from atp.actors import Runtime
from atp.api import create_app
from atp.client import Client, verify_webhook
from tests.client.test_client_routes import ASGI, serve_app
from tests.support.cli_process import Cli, field
from tests.support.helpers import Api
from tests.support.receivers import Receiver, Respond

POLL = 0.05  # seconds between looks at a carrier process (it runs in real time)


def token(cli: Cli, alias: str) -> str:
    key: str = cli.state("credentials")["agents"][alias]["agent_token"]
    return key


@pytest.fixture
def cli(local_cli: Cli) -> Cli:
    return local_cli


@pytest.fixture
def http(api: Api) -> httpx.AsyncClient:
    return api.client


async def carrier_status(http: httpx.AsyncClient, cli: Cli, message_id: str, wanted: str) -> None:
    """Wait until the message reads ``wanted`` (a push settles by itself)."""
    headers = {"authorization": f"Bearer {token(cli, 'alpha')}"}
    with trio.fail_after(10):
        while True:
            status = (await http.get(f"/api/messages/{message_id}", headers=headers)).json()
            if status["carrier_status"] == wanted:
                return
            await trio.sleep(POLL)


async def test_agents_leases_policies_and_sessions(cli: Cli, http: httpx.AsyncClient) -> None:
    assert field((await cli("health")).out, "Health") == "ok"
    ready = (await cli("ready")).out
    assert field(ready, "Ready") == "ready" and "- database: ok" in ready

    beta = cli.state("config")["aliases"]["beta"]
    shown = (await cli("agent", "show", "beta")).out
    assert (field(shown, "Agent"), field(shown, "Address")) == (beta["agent_id"], beta["address"])
    old_key, old_token = (
        cli.state("credentials")["agents"]["beta"]["agent_key_id"],
        token(cli, "beta"),
    )
    assert field(shown, "Stored key") == f"{old_key} (active)"
    before_rotation = (cli.home / "credentials.toml").read_text()
    rotated = await cli("agent", "rotate-key", "beta")
    new_key = field(rotated.out, "Key")
    assert (
        new_key != old_key and cli.state("credentials")["agents"]["beta"]["agent_key_id"] == new_key
    )
    assert "token stored locally, not printed" in rotated.out
    shown = (await cli("agent", "show", "beta")).out
    assert field(shown, "Active key") == new_key and field(shown, "Stored key").endswith("(active)")
    refused = await http.post("/api/inbox/claims", json={}, headers={
        "authorization": f"Bearer {old_token}", "idempotency-key": "old",
    })  # fmt: skip
    assert refused.status_code == 401  # the old key stopped; the alias works on with the new
    assert (await cli("inbox", "--as", "beta")).out == "No pending deliveries.\n"
    # The CLI stopped before storing the new key: running it again replays the same key.
    stored = (cli.home / "credentials.toml").read_text()
    (cli.home / "credentials.toml").write_text(before_rotation)
    again = await cli("agent", "rotate-key", "beta")
    assert field(again.out, "Key") == new_key
    assert (cli.home / "credentials.toml").read_text() == stored
    # Replaying `agent create` keeps the rotated key (its answer holds the first one).
    await cli("agent", "create", "beta")
    assert (cli.home / "credentials.toml").read_text() == stored
    assert field((await cli("agent", "rotate-key", "beta")).out, "Key") != new_key  # anew

    await cli("send", "beta", "lease me")
    claimed = await cli("inbox", "--lease", "30", "--as", "beta")
    delivery = field(claimed.out, "Delivery")
    extended = await cli("lease", "extend", delivery, "--lease", "120", "--as", "beta")
    assert (
        extended.out.startswith("Lease extended.") and field(extended.out, "Delivery") == delivery
    )
    ends = [datetime.fromisoformat(field(r.out, "Lease until")) for r in (claimed, extended)]
    assert ends[1] - ends[0] == timedelta(seconds=120)  # from the lease's end, not from now
    bad = await cli("lease", "extend", delivery, "--lease", "1.5", "--as", "beta", code=1)
    assert bad.err == "error: --lease must be a whole number from 1 to 3600\n"

    blocked = await cli("policy", "block", "--agent", "alpha", "--as", "beta")
    assert field(blocked.out, "Effect") == "block"
    assert field(blocked.out, "Sender agent").startswith("alpha (atp://agent/agt_")
    message_id = field((await cli("send", "beta", "are you there?")).out, "Message")
    assert field((await cli("message", "status", message_id)).out, "Carrier status") == "rejected"
    alpha_id = cli.state("config")["aliases"]["alpha"]["agent_id"]
    allowed = await cli("policy", "allow", "--agent", alpha_id, "--as", "beta")
    assert field(allowed.out, "Policy") == field(blocked.out, "Policy")  # replaced, same id
    account_id = cli.state("credentials")["account_id"]
    by_account = await cli("policy", "allow", "--account", account_id, "--as", "beta")
    assert field(by_account.out, "Sender account") == account_id
    neither = await cli("policy", "allow", "--as", "beta", code=1)
    assert "give one sender" in neither.err
    unknown = await cli("policy", "block", "--agent", "nobody", "--as", "beta", code=1)
    assert unknown.err.startswith("error: unknown agent nobody.")

    session_id = field((await cli("session", "open", "beta", "shall we?")).out, "Session")
    listed = (await cli("session", "list", "--as", "beta")).out.splitlines()
    assert listed[0].split("\t") == ["Session", "Status", "Initiator", "Recipient", "Turns",
                                     "Created"]  # fmt: skip
    assert [row.split("\t")[:5] for row in listed[1:]] == [
        [session_id, "pending", "alpha", "beta", "1"],
    ]  # fmt: skip
    assert (await cli("session", "list", "--status", "open")).out == "No sessions.\n"
    paged = (await cli("session", "list", "--limit", "1")).out
    assert "More:" not in paged
    bad_status = await cli("session", "list", "--status", "nope", code=1)
    assert bad_status.err.startswith("error: --status must be one of pending, open,")


async def test_webhooks_and_dead_letters(
    cli: Cli, http: httpx.AsyncClient, receiver: Receiver
) -> None:
    receiver.script(Respond(404), Respond(200), Respond(404))
    url = receiver.url()
    cli.secrets.add("push-credentials")  # given on stdin: it must never show
    set_ = await cli(
        "webhook", "set", url, "--auth-scheme", "Bearer", "--as", "beta",
        stdin=b"push-credentials\n",
    )  # fmt: skip
    secret = cli.state("credentials")["agents"]["beta"]["webhook_secret"]
    assert secret.startswith("whsec_")  # stored for a local receiver, never printed
    sha = "sha256:" + hashlib.sha256(secret.encode()).hexdigest()[:16]
    assert field(set_.out, "URL") == url and field(set_.out, "Active") == "yes"
    assert field(set_.out, "Endpoint secret").endswith(f"(not printed; {sha})")
    assert field(set_.out, "Push credentials") == "sent with every push (not printed)"
    assert cli.state("config")["aliases"]["beta"]["webhook_url"] == url

    shown = (await cli("webhook", "show", "--as", "beta")).out
    assert field(shown, "URL") == url and sha in field(shown, "Endpoint secret")
    assert len(shown.split("Signing keys:\n")[1].splitlines()) == 2  # header and one key
    rotated = (await cli("webhook", "rotate-signing-key", "--overlap", "60", "--as", "beta")).out
    keys = [row.split("\t") for row in rotated.split("Signing keys:\n")[1].splitlines()[1:]]
    assert len(keys) == 2 and keys[0][2] != "-" and keys[1][2] == "-"  # the old one retires
    assert field((await cli("webhook", "show")).out, "URL") == "none set from here"  # alpha

    first = field((await cli("send", "beta", "push me")).out, "Message")
    await carrier_status(http, cli, first, "delivery_failed")
    letters = (await cli("dead-letters", "--as", "beta")).out.splitlines()
    assert letters[0].split("\t")[0] == "Message"
    assert [letters[1].split("\t")[i] for i in (0, 1, 3, 4)] == [first, "alpha", "1/3", "404"]
    redriven = await cli("dead-letters", "redrive", first, "--as", "beta")
    assert field(redriven.out, "Carrier status") == "queued"
    assert field(redriven.out, "Delivery").endswith("(webhook)")
    await carrier_status(http, cli, first, "delivered")
    again = await cli("dead-letters", "release", first, "--as", "beta", code=1)
    assert again.err.startswith("error: server returned 409 not_dead_lettered")

    second = field((await cli("send", "beta", "push me too")).out, "Message")
    await carrier_status(http, cli, second, "delivery_failed")
    released = await cli("dead-letters", "release", second, "--as", "beta")
    assert released.out.splitlines()[0] == "Dead letter released to the inbox."
    assert field((await cli("inbox", "--as", "beta")).out, "Message") == second
    assert (await cli("dead-letters", "list", "--as", "beta")).out == "No dead letters.\n"

    requests = await receiver.wait_for(3)
    for request in requests:  # a receiver on this machine verifies with the stored secret
        assert request.headers["authorization"] == "Bearer push-credentials"
        verify_webhook(request.headers, request.body, secret=secret)


def not_ready(app: ASGI, asked: list[str]) -> ASGI:
    """The carrier as it answers while its database is away: ``/ready`` is 503."""

    async def asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != "/ready":
            await app(scope, receive, send)
            return
        asked.append(scope["path"])
        body = (b'{"status":"error","checks":{"database":"error",'
                b'"transport_runtime":"ok","webhook_dispatcher":"ok"}}')  # fmt: skip
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 503, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return asgi


@pytest.mark.parametrize("store", ["sqlite"])
async def test_ready_reports_a_carrier_that_cannot_serve(
    runtime: Runtime, nursery: trio.Nursery, tmp_path: Any
) -> None:
    asked: list[str] = []
    base_url = await serve_app(not_ready(create_app(runtime.carrier), asked), nursery)
    readiness = await trio.to_thread.run_sync(lambda: Client(base_url).ready())
    assert not readiness.ready and readiness.checks["database"] == "error"
    assert len(asked) == 1  # a 503 from /ready is its answer: not retried, not an error
    run = await Cli(tmp_path / "home")("ready", "--server", base_url, code=1)
    assert field(run.out, "Ready") == "not ready" and "- database: error" in run.out
    assert run.err == "error: the carrier is not ready (database)\n"
    nursery.cancel_scope.cancel()


async def test_send_from_file_sends_each_line_and_names_the_refused(cli: Cli) -> None:
    beta = cli.state("config")["aliases"]["beta"]["address"]
    lines = [
        {"to": "beta", "text": "one"},
        {
            "to": beta,
            "payload": {"messageId": "m-2", "role": "ROLE_USER", "parts": [{"text": "2"}]},
        },
        {"to": "atp://agent/agt_nobody", "text": "three"},
        {"to": "beta", "text": "four", "idempotency_key": "line-4"},
    ]
    path = cli.home.parent / "messages.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n\n")
    sent = await cli("send", "--from-file", str(path), code=1)
    assert sent.out.splitlines()[0] == f"Sent 3 of 4 messages from {path}."
    assert "Message 3 refused: server returned 422 recipient_not_found" in sent.out
    assert "1 of 4 messages were refused" in sent.err
    claimed = {}
    while (claim := await cli("inbox", "--as", "beta")).out != "No pending deliveries.\n":
        claimed[field(claim.out, "Text")] = field(claim.out, "Message")
    assert list(claimed) == ["one", "2", "four"]
    # Sent again: the keyed line answers as before; the others are new sends.
    again = await cli("send", "--from-file", str(path), "--json", code=1)
    results = json.loads(again.out.splitlines()[0])["results"]
    assert results[3]["body"]["message"]["id"] == claimed["four"]
    assert results[0]["body"]["message"]["id"] != claimed["one"]


async def test_send_from_file_refuses_a_bad_line_before_sending(cli: Cli) -> None:
    path = cli.home.parent / "bad.jsonl"
    path.write_text('{"to": "beta", "text": "fine"}\n{"to": "beta"}\n')
    refused = await cli("send", "--from-file", str(path), code=1)
    assert 'line 2: give one of "text" and "payload"' in refused.err
    assert (await cli("inbox", "--as", "beta")).out == "No pending deliveries.\n"


async def test_ack_from_file_records_each_line(cli: Cli) -> None:
    for text in ("one", "two"):
        await cli("send", "beta", text)
    first = field((await cli("inbox", "--as", "beta")).out, "Delivery")
    second = field((await cli("inbox", "--as", "beta")).out, "Delivery")
    lines = [
        {"delivery_id": first, "status": "completed", "text": "done", "idempotency_key": "a1"},
        {"delivery_id": second, "status": "maybe"},
    ]
    path = cli.home.parent / "acks.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    acked = await cli("ack", "--from-file", str(path), "--as", "beta", code=1)
    assert acked.out.splitlines()[0] == f"Recorded 1 of 2 ACKs from {path}."
    assert "ACK 2 refused: server returned 422 invalid_ack_status" in acked.out
    # Again: the keyed line replays its ACK (a keyed text makes the same A2A answer).
    again = await cli("ack", "--from-file", str(path), "--as", "beta", "--json", code=1)
    results = json.loads(again.out.splitlines()[0])["results"]
    assert results[0]["status"] == 201
    assert results[0]["body"]["message_status"]["ack_status"] == "completed"


async def test_inbox_max_claims_several_at_once(cli: Cli) -> None:
    for text in ("one", "two", "three"):
        await cli("send", "beta", text)
    claimed = await cli("inbox", "--max", "2", "--as", "beta")
    blocks = claimed.out.split("\n\n")
    assert [field(block, "Text") for block in blocks] == ["one", "two"]
    rest = await cli("inbox", "--max", "5", "--as", "beta", "--json")
    [claim] = json.loads(rest.out)["deliveries"]
    assert claim["message"]["payload"]["parts"][0]["text"] == "three"
    assert (await cli("inbox", "--max", "5", "--as", "beta")).out == "No pending deliveries.\n"
    refused = await cli("inbox", "--max", "0", "--as", "beta", code=1)
    assert "--max" in refused.err
