"""A store the carrier cannot use: `atp serve`, `atp migrate`, `atp projections rebuild`
each say in one line what is wrong and what to do, and exit 1.

The real ``atp`` command runs as a subprocess against the machine's PostgreSQL (a wrong
database, a schema that does not exist, a store never migrated), a port nothing listens
on, a cluster of the test's own (a wrong password: the shared server trusts local
users), and SQLite data directories with damaged or unwritable files. Every run is
bounded by ``RUN_TIMEOUT``: waiting out a 30 s pool timeout, as the carrier did, fails.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import attrs
import pytest

from tests.support.helpers import AUDIT_KEY
from tests.support.pg_cluster import Cluster
from tests.support.subprocess_server import free_port

pytestmark = pytest.mark.slow

RUN_TIMEOUT = 20  # seconds; the old failure took 30 s and then printed 75 lines
SERVE = ("serve",)
MIGRATE = ("migrate",)
REBUILD = ("projections", "rebuild")


@attrs.frozen
class Case:
    """What to change in a working set-up, and what the one line must say."""

    env: dict[str, str]
    says: tuple[str, ...]
    secret: str | None = None  # must not appear anywhere in the output


def _base(request: pytest.FixtureRequest) -> str:
    url = os.environ.get("ATP_TEST_DATABASE_URL")
    if not url:
        request.getfixturevalue("postgres_url")  # skips, or fails where PostgreSQL is required
    assert url is not None
    return url


def _with_path(url: str, path: str, query: str = "") -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, path, query, ""))


def wrong_database(request: pytest.FixtureRequest, tmp: Path) -> Case:
    name = "atp_missing_" + secrets.token_hex(4)
    url = _with_path(_base(request), "/" + name)
    return Case({"ATP_DATABASE_URL": url}, (f'database "{name}" does not exist', "createdb"))


def wrong_port(request: pytest.FixtureRequest, tmp: Path) -> Case:
    url = f"postgresql://postgres:pw-not-shown@127.0.0.1:{free_port()}/test"
    return Case({"ATP_DATABASE_URL": url}, ("cannot reach", "connection refused"), "pw-not-shown")


def wrong_password(request: pytest.FixtureRequest, tmp: Path) -> Case:
    cluster: Cluster = request.getfixturevalue("own_postgres")
    wrong = "wrong-" + secrets.token_hex(6)
    url = cluster.url(password=wrong)
    return Case({"ATP_DATABASE_URL": url}, ("refused the password", '"postgres"'), wrong)


def odd_password(request: pytest.FixtureRequest, tmp: Path) -> Case:
    """A wrong password with a space, a quote and a backslash: it must reach the server
    as written (refused as a password), never break the connection string apart."""
    cluster: Cluster = request.getfixturevalue("own_postgres")
    wrong = "wr ong'\\" + secrets.token_hex(6)
    url = cluster.url(password=quote(wrong, safe=""))
    return Case({"ATP_DATABASE_URL": url}, ("refused the password",), wrong)


def unencoded_password(request: pytest.FixtureRequest, tmp: Path) -> Case:
    secret = "pw/" + secrets.token_hex(6)
    url = f"postgresql://postgres:{secret}@127.0.0.1:5432/test"
    return Case({"ATP_DATABASE_URL": url}, ("not a valid URL", "URL-encode"), secret)


def port_in_use(request: pytest.FixtureRequest, tmp: Path) -> Case:
    taken = socket.create_server(("127.0.0.1", 0))
    request.addfinalizer(taken.close)
    port = str(taken.getsockname()[1])
    return Case({"ATP_PORT": port}, (f"cannot listen on 127.0.0.1:{port}", "in use"))


def missing_schema(request: pytest.FixtureRequest, tmp: Path) -> Case:
    schema = "atp_missing_" + secrets.token_hex(4)
    base = urlsplit(_base(request))
    url = _with_path(_base(request), base.path, f"schema={schema}")
    return Case({"ATP_DATABASE_URL": url}, (f'schema "{schema}" does not exist', "CREATE SCHEMA"))


def never_migrated(request: pytest.FixtureRequest, tmp: Path) -> Case:
    url: str = request.getfixturevalue("postgres_url")  # a fresh, empty schema
    return Case({"ATP_DATABASE_URL": url}, ("not migrated", "atp migrate"))


def no_secret_key(request: pytest.FixtureRequest, tmp: Path) -> Case:
    url: str = request.getfixturevalue("postgres_url")
    says = ("ATP_SECRET_KEY is required", "set it to a long random string")
    return Case({"ATP_DATABASE_URL": url, "ATP_SECRET_KEY": ""}, says)


def no_audit_key(request: pytest.FixtureRequest, tmp: Path) -> Case:
    url: str = request.getfixturevalue("postgres_url")
    says = ("ATP_AUDIT_SIGNING_KEY is required", "the base64 of 32 random bytes")
    return Case({"ATP_DATABASE_URL": url, "ATP_AUDIT_SIGNING_KEY": ""}, says)


def bad_audit_key(request: pytest.FixtureRequest, tmp: Path) -> Case:
    secret = "not-32-bytes-" + "x" * 8  # never echoed back
    return Case({"ATP_AUDIT_SIGNING_KEY": secret}, ("ATP_AUDIT_SIGNING_KEY", "32 bytes"), secret)


def damaged_views(request: pytest.FixtureRequest, tmp: Path) -> Case:
    (tmp / "var").mkdir()
    (tmp / "var" / "views.db").write_bytes(b"not a database, " * 64)
    return Case({}, ("views database", "move it aside"))


def damaged_ledger(request: pytest.FixtureRequest, tmp: Path) -> Case:
    (tmp / "var").mkdir()
    (tmp / "var" / "ledger.db").write_bytes(b"not a database, " * 64)
    return Case({}, ("ledger", "not a database", "backup"))


def unwritable_views(request: pytest.FixtureRequest, tmp: Path) -> Case:
    views = tmp / "var" / "views.db"
    views.parent.mkdir()
    views.touch()
    request.getfixturevalue("unwritable")(views)
    return Case({}, ("views database", "not readable and writable"))


def unwritable_data_dir(request: pytest.FixtureRequest, tmp: Path) -> Case:
    (tmp / "var").mkdir()
    request.getfixturevalue("unwritable")(tmp / "var")
    return Case({}, ("ATP_DATA_DIR", "is not writable"))


@pytest.fixture
def unwritable() -> Iterator[Callable[[Path], None]]:
    """Make files unwritable for this process; root ignores modes, so root makes them
    immutable (``chattr +i``) instead. Undone afterwards."""
    made: list[Path] = []

    def make(path: Path) -> None:
        if os.geteuid() != 0:
            path.chmod(0o555 if path.is_dir() else 0o444)
        else:
            chattr = shutil.which("chattr")
            assert chattr is not None, "root needs chattr to make a file unwritable"
            subprocess.run([chattr, "+i", str(path)], check=True)
            made.append(path)

    yield make
    for path in made:
        subprocess.run(["chattr", "-i", str(path)], check=False)


CASES = [
    # Each command once on a PostgreSQL it cannot reach, each cause at least once.
    (wrong_database, SERVE), (wrong_database, MIGRATE), (wrong_database, REBUILD),
    (wrong_port, SERVE),
    (wrong_password, MIGRATE), (odd_password, SERVE), (unencoded_password, SERVE),
    (port_in_use, SERVE),
    (missing_schema, SERVE), (missing_schema, MIGRATE),
    (never_migrated, SERVE), (never_migrated, REBUILD),
    (no_secret_key, SERVE), (no_audit_key, SERVE), (bad_audit_key, SERVE),
    (damaged_views, SERVE), (damaged_views, MIGRATE),
    (damaged_ledger, REBUILD),
    (unwritable_views, SERVE), (unwritable_data_dir, SERVE),
]  # fmt: skip


@pytest.mark.parametrize(
    ("make", "command"), CASES, ids=[f"{m.__name__}-{'-'.join(c)}" for m, c in CASES]
)
def test_a_store_that_cannot_be_used_is_one_line_and_exit_1(
    make: Callable[[pytest.FixtureRequest, Path], Case],
    command: tuple[str, ...],
    request: pytest.FixtureRequest,
    tmp_path: Path,
) -> None:
    case = make(request, tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATP_")}
    env |= {"ATP_DATA_DIR": str(tmp_path / "var"), "ATP_PORT": str(free_port())}
    env |= {
        "ATP_SECRET_KEY": "startup-test-secret-key",
        "ATP_AUDIT_SIGNING_KEY": AUDIT_KEY,
        **case.env,
    }
    env = {k: v for k, v in env.items() if v}
    done = subprocess.run(
        [sys.executable, "-m", "atp", *command],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=RUN_TIMEOUT, check=False,
    )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stdout == "", done.stdout
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: "), done.stderr
    for words in case.says:
        assert words in lines[0], lines[0]
    if case.secret is not None:
        assert case.secret not in done.stderr
    assert "postgresql://" not in done.stderr
