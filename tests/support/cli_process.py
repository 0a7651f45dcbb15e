"""Run the real ``atp`` command (a subprocess, or ``main()`` in a thread) and check that
it never shows a secret.

Every output of every run goes through ``assert_no_secret``: the issue's pattern
must not match, and no token from ``credentials.toml`` may appear. Wire ids are
base64url and so may contain ``ak_X`` by chance (one id in about 20,000); they are
masked before the pattern is applied. A token cannot hide behind that mask: tokens
are 43 characters after their prefix, ids 22, and the mask needs a whole word.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import attrs
import pytest
import trio

from atp.cli import main

__all__ = [
    "SECRET", "Cli", "InProcessCli", "Run", "assert_no_secret", "field", "redacted",
    "with_aliases",
]  # fmt: skip

SECRET = re.compile(
    r"Bearer |authorization|ak_[A-Za-z0-9]|agk_[A-Za-z0-9]|whsec_|whsk_|whpk_|signature",
    re.IGNORECASE,
)
_WIRE_ID = re.compile(
    r"(?<![\w-])(?:acct|agt|msg|dlv|ses|ack|wha|whk|spol|acctkey|agtkey|rpl)_[\w-]{22}(?![\w-])"
)


def assert_no_secret(text: str, tokens: list[str]) -> None:
    """Fail, without echoing the secret, if ``text`` shows one (pytest would print this
    frame's locals and a plain assert's operands into the CI log)."""
    __tracebackhide__ = True
    leaked = [token for token in tokens if token in text]
    found = SECRET.search(_WIRE_ID.sub("<id>", text))
    if leaked or found is not None:
        shown = redacted(text, tokens)
        what = f"{len(leaked)} token(s)" if leaked else "secret-like text"
        pytest.fail(f"{what} in the output:\n{shown}", pytrace=False)


def redacted(text: str, tokens: list[str]) -> str:
    """``text`` with the given tokens and anything secret-like after it blanked out."""
    for token in tokens:
        text = text.replace(token, "<token>")
    return re.sub(f"(?:{SECRET.pattern})\\S*", "<secret>", text, flags=re.IGNORECASE)


def field(text: str, name: str) -> str:
    """The value of the ``Name: value`` line in ``text``."""
    match = re.search(rf"^{re.escape(name)}: (.*)$", text, re.MULTILINE)
    assert match, f"no {name!r} line in:\n{text}"
    return match.group(1)


@attrs.frozen
class Run:
    code: int
    out: str
    err: str


class Cli:
    """``python -m atp`` with its own ``ATP_HOME``; every output is checked for secrets."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("ATP_")}
        self.env["ATP_HOME"] = str(home)
        self.runs: list[Run] = []
        self.secrets: set[str] = set()  # also rotated-away keys: none may show either

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "atp", *args]

    def state(self, name: str) -> dict[str, Any]:
        """``config`` or ``credentials`` from ATP_HOME (empty before ``init``)."""
        path = self.home / f"{name}.toml"
        return tomllib.loads(path.read_text()) if path.exists() else {}

    def tokens(self) -> list[str]:
        """Every secret in ``credentials.toml``, and every one it held before."""
        data = self.state("credentials")
        if data:
            agents = data["agents"].values()
            self.secrets.update([data["account_token"], *(a["agent_token"] for a in agents)])
            self.secrets.update(a["webhook_secret"] for a in agents if "webhook_secret" in a)
        return sorted(self.secrets)

    def check(self, text: str) -> None:
        __tracebackhide__ = True
        assert_no_secret(text, self.tokens())

    async def execute(self, args: tuple[str, ...], stdin: bytes) -> Run:
        done = await trio.run_process(
            self.command(*args), env=self.env, capture_stdout=True, capture_stderr=True,
            check=False, stdin=stdin,
        )  # fmt: skip
        return Run(done.returncode, done.stdout.decode(), done.stderr.decode())

    async def __call__(self, *args: str, code: int = 0, stdin: bytes = b"") -> Run:
        self.tokens()  # remember the secrets held before this run (a rotation replaces them)
        run = await self.execute(args, stdin)
        self.runs.append(run)
        self.check(run.out + run.err)
        assert run.code == code, f"atp {' '.join(args)} exited {run.code}:\n{run.out}{run.err}"
        if code:
            assert run.err.startswith("error: "), run.err
        return run

    async def start(self, *args: str) -> trio.Process:
        """Start a long-running command (watch, inbox --wait) with piped output."""
        return await trio.lowlevel.open_process(
            self.command(*args), env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )


class InProcessCli(Cli):
    """``atp.cli.main`` in a worker thread of this process, for tests that run dozens of
    commands against a carrier served from the test's own Trio loop: the same commands
    and checks, without a Python start-up per run. One command runs at a time (its
    standard streams and ``ATP_HOME`` are this process's while it runs)."""

    async def execute(self, args: tuple[str, ...], stdin: bytes) -> Run:
        def run() -> Run:
            out, err = io.StringIO(), io.StringIO()
            saved_stdin, saved_home = sys.stdin, os.environ.get("ATP_HOME")
            sys.stdin, os.environ["ATP_HOME"] = io.StringIO(stdin.decode()), str(self.home)
            try:
                with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                    code = main(list(args))
            finally:
                sys.stdin = saved_stdin
                if saved_home is None:
                    del os.environ["ATP_HOME"]
                else:
                    os.environ["ATP_HOME"] = saved_home
            return Run(code, out.getvalue(), err.getvalue())

        return await trio.to_thread.run_sync(run)


async def with_aliases(cli: Cli, server_url: str) -> Cli:
    """``cli`` after ``init`` on ``server_url`` and the aliases alpha (active) and beta."""
    await cli("init", "--server", server_url)
    await cli("agent", "create", "alpha")
    await cli("agent", "create", "beta")
    await cli("use", "alpha")
    return cli
