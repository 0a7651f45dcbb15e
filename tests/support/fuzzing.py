"""A live carrier for schemathesis: a real ``atp serve`` on a port, principals with real
keys, and the checks every answer must pass. Used by ``test_fuzz.py`` (bounded, in CI)
and by ``ops/fuzz`` (long runs).

The server is a subprocess on a fresh store (a new ``ATP_DATA_DIR``, or a new
PostgreSQL schema after ``atp migrate``), so schemathesis's synchronous HTTP client and
Hypothesis run in the test's thread while the carrier runs in its own ``trio.run``.
"""

from __future__ import annotations

import json
import os
import random
import secrets
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import attrs
import httpx
import psycopg
import schemathesis
from schemathesis.checks import (  # the registry's names for the built-in checks
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from atp.errors import error_for_code
from tests.support.helpers import AUDIT_KEY
from tests.support.subprocess_server import free_port

__all__ = ["CHECKS", "FuzzServer", "Principals", "start_server"]

READY_TIMEOUT = 20.0


@schemathesis.check
def error_envelope(ctx: schemathesis.CheckContext, response: Any, case: Any) -> bool | None:
    """Every error is exactly the contract's envelope, with its code's fixed message."""
    if response.status_code < 400:
        return None
    body = json.loads(response.content)
    assert isinstance(body, dict) and list(body) == ["error"], body
    error = body["error"]
    assert sorted(error) == ["code", "message"], body
    expected = error_for_code(error["code"]).message
    assert error["message"] == expected, body
    return True


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    error_envelope,
]


@attrs.frozen
class Principals:
    """Two accounts: the first with agents a1 and a2, the second with agent b1."""

    account1: str
    account2: str
    agents: dict[str, tuple[str, str]]  # name -> (agent id, token)

    def address(self, name: str) -> str:
        return "atp://agent/" + self.agents[name][0]


@attrs.define
class FuzzServer:
    """A running carrier and what the fuzzer needs to get past authentication."""

    base_url: str
    principals: Principals
    process: subprocess.Popen[bytes]
    log: Path
    drop_schema: tuple[str, str] | None = None  # (server url, schema) on PostgreSQL
    calls: Counter[str] = attrs.field(factory=Counter)
    answers: Counter[tuple[str, int]] = attrs.field(factory=Counter)  # (operation, status)
    # Hypothesis seeds the global ``random`` alike for every example; this one varies.
    rng: random.Random = attrs.field(factory=random.Random)

    def record(self, case: Any, response: Any) -> None:
        """Count ``response``'s status for ``case``'s operation (the run's report)."""
        self.answers[(case.operation.label, response.status_code)] += 1

    def report(self) -> str:
        """Cases per operation and the statuses they got, one line each."""
        lines = [f"{sum(self.calls.values())} cases over {len(self.calls)} operations"]
        for label in sorted(self.calls):
            statuses = sorted((s, n) for (op, s), n in self.answers.items() if op == label)
            seen = ", ".join(f"{s}: {n}" for s, n in statuses)
            lines.append(f"  {label}: {self.calls[label]} ({seen})")
        return "\n".join(lines)

    def prepare(self, case: Any, *, linked: bool = False) -> None:
        """Give ``case`` a real key of the kind its operation takes, and often real ids
        and a real recipient, so most cases get past 401/404 to the route's own rules.

        ``linked`` (stateful runs) picks the principal that can act on what the earlier
        calls made: a1 sends to itself (so it claims and ACKs), opens sessions with a2
        (who answers them), and every call has a fresh idempotency key.
        """
        self.calls[case.operation.label] += 1
        security = case.operation.definition.raw.get("security") or []
        kinds = [kind for requirement in security for kind in requirement]
        headers = case.headers if case.headers is not None else {}
        label = case.operation.label
        if linked:
            answers = label.endswith(("/accept", "/reject"))
            agent = "a2" if answers else "a1"
            headers["Idempotency-Key"] = secrets.token_hex(8)
        else:
            agent = self.rng.choice(["a1", "a1", "a2", "b1"])
        if label.endswith("/stream"):
            # A live stream stays open (heartbeats) until its session ends, or for ever
            # (the events), so the synchronous client would wait out its timeout; the
            # streams' answers are tested in test_session_stream.py, test_inbox_stream.py
            # and audit/test_events.py.
            headers["Last-Event-ID"] = "not-a-number"
            if label == "GET /api/inbox/stream":  # it takes no Last-Event-ID: no credit
                case.query = {**(case.query or {}), "credit": "0"}
        if "agentKey" in kinds and ("accountKey" not in kinds or self.rng.random() < 0.5):
            headers["Authorization"] = f"Bearer {self.principals.agents[agent][1]}"
        elif "accountKey" in kinds:
            account = self.principals.account2 if agent == "b1" else self.principals.account1
            headers["Authorization"] = f"Bearer {account}"
        case.headers = headers
        if case.path_parameters and "agent_id" in case.path_parameters and self.rng.random() < 0.7:
            case.path_parameters["agent_id"] = self.principals.agents[agent][0]
        body = case.body
        if isinstance(body, dict) and "to" in body and (linked or self.rng.random() < 0.7):
            to = (
                ("a2" if "sessions" in label else "a1")
                if linked
                else self.rng.choice(["a1", "a2", "b1"])
            )
            body["to"] = self.principals.address(to)
        if isinstance(body, dict) and isinstance(body.get("wait_seconds"), int):
            # A long poll holds the request while nothing arrives; a second is enough to
            # take that path without spending the run waiting.
            body["wait_seconds"] = min(body["wait_seconds"], 1)

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL) and drop its PostgreSQL schema."""
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.drop_schema is not None:
            url, schema = self.drop_schema
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute(f"DROP SCHEMA {schema} CASCADE")


def start_server(store: str, workdir: Path, postgres_url: str | None) -> FuzzServer:
    """A carrier on ``store`` (``postgres`` needs ``postgres_url``), ready and populated."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATP_")}
    env.update(ATP_PORT=str(free_port()), ATP_BIND="127.0.0.1", ATP_DATA_DIR=str(workdir / "var"))
    drop = None
    if store == "postgres":
        assert postgres_url is not None
        schema = "atp_fuzz_" + secrets.token_hex(6)
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
        drop = (postgres_url, schema)
        sep = "&" if "?" in postgres_url else "?"
        env.update(
            ATP_DATABASE_URL=f"{postgres_url}{sep}schema={schema}",
            ATP_SECRET_KEY="fuzz",
            ATP_AUDIT_SIGNING_KEY=AUDIT_KEY,
        )
        subprocess.run(
            [sys.executable, "-m", "atp", "migrate"], env=env, cwd=workdir, check=True,
            capture_output=True, timeout=60,
        )  # fmt: skip
    log = workdir / "server.log"
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "atp", "serve"], env=env, cwd=workdir, stdout=out,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    base_url = f"http://127.0.0.1:{env['ATP_PORT']}"
    try:
        _wait_ready(base_url, process, log)
        principals = _principals(base_url)
    except BaseException:
        process.kill()
        process.wait()
        raise
    return FuzzServer(base_url, principals, process, log, drop)


def _wait_ready(base_url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    with httpx.Client(base_url=base_url, timeout=2) as http:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"server exited:\n{log.read_text(errors='replace')}")
            try:
                if http.get("/ready").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
    raise RuntimeError(f"server not ready:\n{log.read_text(errors='replace')}")


def _principals(base_url: str) -> Principals:
    with httpx.Client(base_url=base_url, timeout=10) as http:

        def account() -> str:
            r = http.post("/api/accounts", json={"name": "fuzz"})
            token: str = r.raise_for_status().json()["account_api_key"]["token"]
            return token

        def agent(account_token: str, name: str) -> tuple[str, str]:
            headers = {
                "authorization": f"Bearer {account_token}",
                "idempotency-key": secrets.token_hex(8),
            }
            r = http.post("/api/agents", json={"display_name": name}, headers=headers)
            body = r.raise_for_status().json()
            return body["id"], body["agent_api_key"]["token"]

        first, second = account(), account()
        agents = {"a1": agent(first, "a1"), "a2": agent(first, "a2"), "b1": agent(second, "b1")}
    return Principals(first, second, agents)
