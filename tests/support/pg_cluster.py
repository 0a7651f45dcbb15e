"""A PostgreSQL cluster of a test's own: ``initdb`` into a temporary directory, a free port.

For tests that stop the server (an outage) or need what the machine's shared server
does not offer (password authentication). Never the shared server: other engineers
and CI use it. initdb and postgres refuse to run as root, so as root the cluster runs
as the ``postgres`` user, in a directory it owns.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.subprocess_server import free_port

__all__ = ["Cluster", "own_postgres"]


def _bindir() -> Path | None:
    """The newest installed PostgreSQL's binaries (Debian's layout), or pg_config's."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: p.parts)
    if found:
        return found[-1].parent
    pg_config = shutil.which("pg_config")
    if pg_config is None:
        return None
    out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
    bindir = Path(out.stdout.strip())
    return bindir if (bindir / "initdb").exists() else None


class Cluster:
    """One initdb'd cluster: superuser ``postgres`` with a password, on 127.0.0.1:``port``."""

    def __init__(self, bindir: Path, root: Path) -> None:
        self.bindir = bindir
        self.root = root
        self.data = root / "data"
        self.port = free_port()
        self.password = "pw-" + secrets.token_hex(8)
        self._user = "postgres" if os.geteuid() == 0 else None

    def url(self, password: str | None = None, dbname: str = "postgres") -> str:
        """``postgresql://postgres:<password>@127.0.0.1:<port>/<dbname>``."""
        given = self.password if password is None else password
        return f"postgresql://postgres:{given}@127.0.0.1:{self.port}/{dbname}"

    def _run(self, *args: str) -> None:
        done = subprocess.run(
            [str(self.bindir / args[0]), *args[1:]],
            user=self._user, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert done.returncode == 0, f"{args[0]} failed: {done.stdout}{done.stderr}"

    def init(self) -> None:
        """initdb: password authentication over TCP, trust on the socket; fast, not durable."""
        pwfile = self.root / "pwfile"
        pwfile.write_text(self.password + "\n")
        if self._user is not None:
            shutil.chown(pwfile, self._user)
        self._run(
            "initdb", "-D", str(self.data), "-U", "postgres", "--pwfile", str(pwfile),
            "--auth-host=scram-sha-256", "--auth-local=trust", "-E", "UTF8", "--no-sync",
        )  # fmt: skip

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
            " -c full_page_writes=off -c shared_buffers=16MB -c max_connections=60"
        )
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"),
            "-o", options, "-w", "-t", "60", "start",
        )  # fmt: skip

    def stop(self, mode: str = "immediate") -> None:
        """Stop the server (``immediate``: connections drop as in a crash)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()


@pytest.fixture(scope="module")
def own_postgres() -> Iterator[Cluster]:
    """A started cluster of this test module's own; stopped and deleted afterwards."""
    bindir = _bindir()
    if bindir is None:
        message = "no PostgreSQL server binaries (initdb, pg_ctl) on this machine"
        if os.environ.get("ATP_REQUIRE_POSTGRES") == "1":
            pytest.fail(message)
        pytest.skip(message)
    root = Path(tempfile.mkdtemp(prefix="atp-pg-"))
    cluster = Cluster(bindir, root)
    try:
        if cluster._user is not None:
            shutil.chown(root, cluster._user)
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        if cluster.running():
            cluster.stop()
        shutil.rmtree(root, ignore_errors=True)
