"""Every log line of a full workload, in JSON, scanned for secrets (both stores).

The workload touches everything that handles a secret: signup and agents (account and
agent keys), an agent key rotation, a webhook endpoint with its own credentials, its
signing-key rotation, sends, claims, a lease extension, ACKs, a session, pushes to a
real receiver (signed both ways), a dead letter and its redrive, error answers, bad
``Authorization`` headers and a protected scrape. Logging runs at ``debug``, as
``atp serve`` configures it, so the libraries' own lines are scanned too. The scan
looks for every secret value the run produced or sent (tokens, webhook secrets and
signing keys, signatures, Authorization values, the database password, the sealing
key, the metrics token) and for anything shaped like a key.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import urlsplit, urlunsplit

import attrs
import httpx
import pytest

from atp.actors import Runtime
from atp.settings import Settings
from tests.api.test_sessions import open_session
from tests.support.helpers import Agent, Api, text
from tests.support.log_capture import captured_logs
from tests.support.receivers import Receiver, Respond

DB_PASSWORD = "db-pass-7Qm2xZ"  # PostgreSQL here trusts local connections: any password works
METRICS_TOKEN = "metrics-token-5Jk9Lw"
RECEIVER_CREDENTIALS = "receiver-credentials-3Vd8Pn"
# Anything shaped like one of the carrier's keys, standing alone (ids are made of the
# same characters, so a key's prefix inside an id does not count).
KEY_SHAPED = re.compile(r"(?<![A-Za-z0-9_-])(?:ak|agk|whsec|whsk|whpk)_[A-Za-z0-9_+/=-]{8,}")


def leaks(lines: Iterable[str], secrets: Iterable[str]) -> list[str]:
    """The lines that hold a secret, a key-shaped value or a traceback."""
    values = [s for s in secrets if s]
    return [
        line
        for line in lines
        if KEY_SHAPED.search(line) or "Traceback" in line or any(value in line for value in values)
    ]


def test_the_scan_finds_what_it_looks_for() -> None:
    token = "ak_" + "x" * 40
    found = leaks(
        [
            '{"message": "fine", "id": "msg_ak_0123456789abcdef"}',
            f'{{"message": "oops {token}"}}',
            '{"message": "whsec_c2VjcmV0c2VjcmV0c2VjcmV0"}',
            '{"error": "Traceback (most recent call last):"}',
            '{"message": "a password db-pass-7Qm2xZ"}',
        ],
        [DB_PASSWORD],
    )
    assert len(found) == 4 and "fine" not in str(found)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    url = settings.database_url
    if url is not None:  # the same database, reached with a password in the URL
        parts = urlsplit(url)
        user, _, host = parts.netloc.rpartition("@")
        netloc = f"{user.partition(':')[0]}:{DB_PASSWORD}@{host}"
        url = urlunsplit(parts._replace(netloc=netloc))
    return attrs.evolve(
        settings,
        database_url=url,
        webhook_allow_private=True,
        webhook_timeout=2.0,
        agents_per_account={"free": 3},
        metrics_token=METRICS_TOKEN,
    )


async def test_no_secret_in_any_log_line_of_a_full_workload(
    api: Api, runtime: Runtime, receiver: Receiver, settings: Settings
) -> None:
    sent_authorization: list[str] = []

    async def remember(request: httpx.Request) -> None:
        sent_authorization.extend(request.headers.get_list("authorization"))

    api.client.event_hooks["request"].append(remember)
    with captured_logs("debug", "json") as logs:
        secrets = await workload(api, runtime, receiver)
        await runtime.projections.wait_current()
    for request in receiver.requests:
        secrets += [request.headers[h] for h in ("atp-signature", "webhook-signature")]
        secrets.append(request.headers.get("authorization", ""))
    secrets += [*sent_authorization, settings.secret_key or "", METRICS_TOKEN]
    if settings.database_url is not None:
        assert DB_PASSWORD in settings.database_url
        secrets.append(DB_PASSWORD)
    assert len(receiver.requests) >= 3
    records = logs.records()  # every line is one JSON object
    assert len(records) > 60
    assert {r["logger"] for r in records} >= {"atp.access", "atp.actors._dispatcher"}
    assert leaks(logs.lines(), secrets) == []


async def workload(api: Api, runtime: Runtime, receiver: Receiver) -> list[str]:
    """Everything that handles a secret, once; returns the secrets it saw."""
    account = await api.signup("Secret Keepers")
    alpha = await api.agent(account, "alpha")
    beta = await api.agent(account, "beta")
    hooked = await api.agent(account, "hooked")
    rotated = await api.post(f"/api/agents/{beta.id}/keys", account)
    assert rotated.status_code == 201, rotated.text
    old_beta_token = beta.token
    beta = attrs.evolve(beta, token=rotated.json()["token"])
    authentication = {"scheme": "Bearer", "credentials": RECEIVER_CREDENTIALS}
    endpoint = await api.webhook_endpoint(hooked, receiver.url(), authentication=authentication)
    signing = await api.post(f"/api/agents/{hooked.id}/webhook_endpoint/signing_keys", hooked.token)
    assert signing.status_code == 201, signing.text
    secrets = [account, alpha.token, old_beta_token, beta.token, hooked.token]
    secrets += [endpoint["endpoint_secret"], *await private_signing_keys(runtime, hooked)]
    secrets += [k["public_key"] for k in endpoint["signing_keys"]]

    for n in range(3):
        assert (await api.send(alpha, beta, text(f"m-{n}"))).status_code == 201
    claimed = (await api.claim(beta, 60)).json()["id"]
    extended = await api.post(
        f"/api/deliveries/{claimed}/extend", beta.token, {"lease_seconds": 90}
    )
    assert extended.status_code == 200, extended.text
    assert (await api.ack(beta, claimed, "completed", text("done"))).status_code == 201

    session_id = (await open_session(api, alpha, beta))["session"]["id"]
    for verb in ("accept", "messages", "close"):
        body = {"payload": text("turn")} if verb == "messages" else None
        r = await api.post(f"/api/sessions/{session_id}/{verb}", beta.token, body)
        assert r.status_code in (200, 201), r.text

    pushed = (await api.send(alpha, hooked)).json()["message"]["id"]
    await api.settled(hooked, pushed, "delivered")
    receiver.script(Respond(404))
    parked = (await api.send(alpha, hooked)).json()["message"]["id"]
    await api.settled(hooked, parked, "failed")
    redriven = await api.post(f"/api/dead_letters/{parked}/redrive", hooked.token)
    assert redriven.status_code == 200, redriven.text
    await api.settled(hooked, parked, "delivered")

    await errors_and_bad_headers(api, account, alpha, old_beta_token, endpoint["endpoint_secret"])
    assert (await api.get("/metrics", METRICS_TOKEN)).status_code == 200
    return secrets


async def private_signing_keys(runtime: Runtime, agent: Agent) -> list[str]:
    """The ``whsk_`` keys that sign the agent's pushes (kept sealed in the ledger)."""
    record = await runtime.context.identities.agent(agent.id)
    assert record is not None and len(record.signing_keys) == 2
    unseal = runtime.context.sealer.unseal
    return [unseal(key["sealed_private_key"]).decode() for key in record.signing_keys]


async def errors_and_bad_headers(
    api: Api, account: str, alpha: Agent, revoked: str, whsec: str
) -> None:
    client = api.client
    for headers in (
        {"authorization": f"Bearer {revoked}"},  # rotated away
        {"authorization": f"Basic {alpha.token}"},
        {"authorization": alpha.token},
        {"authorization": f"Bearer {whsec}"},  # a secret sent where a key belongs
        {"authorization": "Bearer"},
    ):
        r = await client.get("/api/sessions", headers=headers)
        assert r.status_code == 401, r.text
    doubled = [("authorization", f"Bearer {alpha.token}"), ("authorization", f"Bearer {account}")]
    assert (await client.get("/api/sessions", headers=doubled)).status_code == 401
    assert (await api.post("/api/messages", account, {"to": "x"})).status_code == 403
    assert (await api.get("/metrics", None)).status_code == 401
    assert (await api.get("/metrics", alpha.token)).status_code == 401
    assert (await client.get("/no/such/route")).status_code == 404
    not_json = {**api.headers(alpha.token), "content-type": "application/json"}
    assert (
        await client.post("/api/messages", content=b'{"to":', headers=not_json)
    ).status_code == 400
    payload = {"to": "atp://agent/agt_x", "payload": {"secret": alpha.token}}
    assert (await api.post("/api/messages", alpha.token, payload)).status_code == 422
    for path in ("/api/agents/%00", "/api/messages/msg_%00"):
        r = await api.get(path, account)
        assert r.status_code == 404, r.text  # no route matches an id with a NUL
