"""``--json`` prints the carrier's answer under the API's own names, less its secrets.

Every client command's JSON is held against the API's document: a read against the same
document read over HTTP (equal, once secret fields are left out); a write against the
same write made over HTTP (the same keys at every level: ids and times differ). Commands
that keep local state add a few keys of their own, named in docs/cli.md.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import trio

from tests.support.cli_process import Cli, InProcessCli, assert_no_secret
from tests.support.helpers import Api, as_stored, text
from tests.support.receivers import Receiver, Respond

pytestmark = pytest.mark.parametrize("store", ["sqlite"])
SECRET_FIELDS = {"token", "endpoint_secret", "public_key"}
POLL = 0.05  # seconds between looks at a carrier process


def public(document: Any) -> Any:
    """The API's document as the CLI may show it: no secret field, no receiver URL."""
    if isinstance(document, dict):
        return {
            key: value if key == "payload" else public(value)
            for key, value in document.items()
            if key not in SECRET_FIELDS and key != "request_url"
        }
    if isinstance(document, list):
        return [public(item) for item in document]
    return document


def shape(document: Any) -> Any:
    """The keys at every level (a list by its first item); values do not count."""
    if isinstance(document, dict):
        return {k: "payload" if k == "payload" else shape(v) for k, v in document.items()}
    if isinstance(document, list):
        return [shape(document[0])] if document else []
    return None


def with_local(printed: dict[str, Any], answer: dict[str, Any], local: set[str]) -> None:
    """``printed`` is ``answer`` made public, plus exactly the ``local`` keys."""
    assert set(printed) - set(answer) == local
    assert shape({k: v for k, v in printed.items() if k not in local}) == shape(public(answer))


async def js(cli: Cli, *args: str) -> Any:
    return json.loads((await cli(*args, "--json")).out)


@pytest.fixture
def cli(local_cli: Cli) -> Cli:
    return local_cli


async def settled(api: Api, token: str, message_id: str, wanted: str) -> dict[str, Any]:
    with trio.fail_after(10):
        while True:
            status: dict[str, Any] = (await api.status(token, message_id)).json()
            if status["carrier_status"] == wanted:
                return status
            await trio.sleep(POLL)


async def test_every_command_prints_the_api_document(
    cli: Cli, api: Api, base_url: str, receiver: Receiver, tmp_path: Path
) -> None:
    credentials, aliases = cli.state("credentials"), cli.state("config")["aliases"]
    account, alpha = credentials["account_token"], credentials["agents"]["alpha"]["agent_token"]
    beta, beta_id = credentials["agents"]["beta"]["agent_token"], aliases["beta"]["agent_id"]
    beta_address = aliases["beta"]["address"]
    assert await js(cli, "health") == (await api.get("/health", None)).json()
    assert await js(cli, "ready") == (await api.get("/ready", None)).json()

    # Identity: a second home signs up; its agent gamma is the API's side of the writes.
    other = InProcessCli(tmp_path / "other")
    signup = (await api.client.post("/api/accounts", json={"name": "API"})).json()
    with_local(
        await js(other, "init", "--server", base_url), signup,
        {"server_url", "config", "credentials"},
    )  # fmt: skip
    other_account = signup["account_api_key"]["token"]
    gamma = (await api.post("/api/agents", other_account, {"display_name": "gamma"})).json()
    with_local(
        await js(other, "agent", "create", "gamma"),
        gamma,
        {"alias", "credentials", "prompt", "a2a_agent_card_url", "mcp_config"},
    )
    shown = await js(cli, "agent", "show", "beta")
    assert shown == {**(await api.get(f"/api/agents/{beta_id}", account)).json(), "alias": "beta"}
    gamma_key = (await api.post(f"/api/agents/{gamma['id']}/keys", other_account, {})).json()
    with_local(await js(other, "agent", "rotate-key", "gamma"), gamma_key, {"alias", "credentials"})
    gamma_token = gamma_key["token"]
    policy = await js(cli, "policy", "allow", "--agent", "alpha", "--as", "beta")
    api_policy = await api.put(
        f"/api/agents/{gamma['id']}/sender_policies", gamma_token,
        {"effect": "allow", "sender_agent_id": aliases["alpha"]["agent_id"]},
    )  # fmt: skip
    assert shape(policy) == shape(api_policy.json())

    # Messages: one sent by the CLI, one over HTTP, through claim, extend and ACK.
    sent = await js(cli, "send", "beta", "from the cli")
    assert shape(sent) == shape((await api.post("/api/messages", alpha, {
        "to": beta_address, "payload": text(body="from the api"),
    })).json())  # fmt: skip
    status = await js(cli, "message", "status", sent["message"]["id"])
    assert status == public((await api.status(alpha, sent["message"]["id"])).json())
    claim = await js(cli, "inbox", "--as", "beta")
    api_claim = (await api.post("/api/inbox/claims", beta, {})).json()
    assert shape(claim) == shape(api_claim) and claim["message"]["id"] == sent["message"]["id"]
    extended = await js(cli, "lease", "extend", claim["id"], "--as", "beta")
    api_path = f"/api/deliveries/{api_claim['id']}"
    assert shape(extended) == shape((await api.post(f"{api_path}/extend", beta, {})).json())
    acked = await js(cli, "ack", claim["id"], "--completed", "done", "--as", "beta")
    api_ack = await api.post(f"{api_path}/acks", beta, {"status": "completed", "payload": text()})
    assert shape(acked) == shape(public(api_ack.json()))

    # Sessions: each write beside the same write over HTTP; reads equal.
    opened = await js(cli, "session", "open", "beta", "shall we?")
    api_opened = await api.post("/api/sessions", alpha, {"to": beta_address, "payload": text()})
    assert shape(opened) == shape(api_opened.json())
    ours, theirs = opened["session"]["id"], api_opened.json()["session"]["id"]
    accepted = await js(cli, "session", "accept", ours, "--as", "beta")
    api_accepted = await api.post(f"/api/sessions/{theirs}/accept", beta, {})
    assert shape(accepted) == shape(public(api_accepted.json()))
    turn = await js(cli, "session", "send", ours, "yes", "--as", "beta")
    api_turn = await api.post(f"/api/sessions/{theirs}/messages", beta, {"payload": text("t")})
    assert shape(turn) == shape(api_turn.json())
    transcript = (await api.get(f"/api/sessions/{ours}", alpha)).json()
    assert await js(cli, "session", "show", ours) == public(transcript)
    assert await js(cli, "session", "list") == (await api.get("/api/sessions", alpha)).json()
    closed = await js(cli, "session", "close", ours)
    assert shape(closed) == shape((await api.post(f"/api/sessions/{theirs}/close", alpha)).json())
    watch = await cli("session", "watch", ours, "--json")  # a closed session: it ends at once
    watched = [json.loads(line) for line in watch.out.splitlines()]
    final = (await api.get(f"/api/sessions/{ours}", alpha)).json()
    assert watched[0] == {"event": "session", "session": final["session"]}
    messages = [e["message_status"] for e in watched if e["event"] == "message"]
    assert messages == public(final["messages"])
    declined = (await js(cli, "session", "open", "beta", "again?"))["session"]["id"]
    rejected = await js(cli, "session", "reject", declined, "no", "--as", "beta")
    theirs = await api.post("/api/sessions", alpha, {"to": beta_address, "payload": text()})
    api_rejected = await api.post(
        f"/api/sessions/{theirs.json()['session']['id']}/reject", beta, {"payload": text("no")}
    )
    assert shape(rejected) == shape(public(api_rejected.json()))

    # Webhooks and dead letters (last: from here on beta's messages are pushed).
    receiver.script(Respond(404), Respond(404))
    hooked = await js(cli, "webhook", "set", receiver.url(), "--as", "beta")
    api_hook = await api.put(
        f"/api/agents/{gamma['id']}/webhook_endpoint", gamma_token, {"url": receiver.url()}
    )
    with_local(hooked, api_hook.json(), {"alias", "credentials", "secret_fingerprint"})
    keys = await js(cli, "webhook", "show", "--as", "beta")
    api_keys = await api.get(f"/api/agents/{beta_id}/webhook_endpoint/signing_keys", beta)
    assert set(keys) == {"signing_keys", "alias", "url", "secret_fingerprint"}
    assert keys["signing_keys"] == public(api_keys.json())["signing_keys"]
    rotated = await js(cli, "webhook", "rotate-signing-key", "--as", "beta")
    gamma_keys = f"/api/agents/{gamma['id']}/webhook_endpoint/signing_keys"
    api_rotated = (await api.post(gamma_keys, gamma_token, {})).json()
    with_local(rotated, api_rotated, {"alias"})

    parked = (await js(cli, "send", "beta", "push me"))["message"]["id"]
    await settled(api, beta, parked, "delivery_failed")
    letters = await js(cli, "dead-letters", "--as", "beta")
    assert letters == public((await api.get("/api/dead_letters", beta)).json())  # no request_url
    assert letters["dead_letters"][0]["message_status"]["message"]["id"] == parked
    redriven = await js(cli, "dead-letters", "redrive", parked, "--as", "beta")
    await settled(api, beta, parked, "delivery_failed")
    released = await js(cli, "dead-letters", "release", parked, "--as", "beta")
    now = as_stored(public((await api.status(beta, parked)).json()))
    assert shape(redriven) == shape(now) and shape(released) == shape(now)

    # No secret in any output of either home (every run was also checked as it ran).
    runs = [*cli.runs, *other.runs]
    printed = "".join(run.out + run.err for run in runs)
    assert_no_secret(printed, [*cli.tokens(), *other.tokens(), gamma_token])
    assert not SECRET_FIELDS & {key for line in printed.splitlines() for key in keys_of(line)}


def keys_of(line: str) -> set[str]:
    """Every key of the JSON document on ``line`` (empty for a line of text)."""
    try:
        document = json.loads(line)
    except ValueError:
        return set()
    found: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            found.update(value)
            for key, item in value.items():
                if key != "payload":
                    walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(document)
    return found
