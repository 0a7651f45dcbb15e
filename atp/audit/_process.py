"""The audit log's writer in a child process, on the core the server leaves idle.

The server spends one core's Python on its requests and leaves the machine's other
cores to the database; folding every event into its record, leaf and tree nodes on
that one core cost sends (docs/performance.md, "The audit follower in its own
process"). So ``atp serve`` starts ``python -m atp.audit``, which
runs the same follower (``_following``) against the same stores, and talks to it over
its pipes, one line at a time:

- down its stdin, first the settings (JSON: they hold the keys, so never in its
  arguments or environment), then the ledger's newest committed notification id
  (``<id>``, at most every 50 ms while commits come), or ``<id> now`` when a reader
  waits to read its writes (the follower then ends its pause at once);
- up its stdout, whenever it changed (looked at after each page and checkpoint, and
  every second, for a position or a stuck view that moved without a page), where the
  log is: ``{"position", "size", "root" (hex), "checkpointed", "stuck"}``.

The child ignores SIGINT and SIGTERM and exits when its stdin closes: the server stops
it (closing the pipe) after its own requests, and a server that dies takes it along.
The server starts it again after it exits, with a backoff. What the log promises does
not change: a page and its tracking commit in one transaction, so a child killed at
any point loses nothing and records nothing twice.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from functools import partial
from pathlib import Path

import attrs
import cattrs
import trio

from atp.audit._follower import TreeHead
from atp.audit._following import AuditFollower, open_follower
from atp.audit._head import LogHead
from atp.audit._signing import stored_signer
from atp.audit._store import AuditStore
from atp.errors import StoreUnavailable
from atp.ledger import Backoff, Bridge, Ledger, describe_store_error
from atp.observe import configure_logging
from atp.projections import ProjectionRunner, open_view_store
from atp.settings import Settings

__all__ = ["FollowerProcess", "follow_for_parent"]

log = logging.getLogger(__name__)
_COMMAND = (sys.executable, "-m", "atp.audit")
_RESTART = Backoff(first=1.0, cap=30.0)
_RAN_WELL = 60.0  # seconds: a child that ran this long restarts after the first delay
_STOP_WITHIN = 10.0  # seconds from closing its stdin to killing it
_REPORT_EVERY = 1.0  # seconds between reports when nothing changed (stuck, away)
_THREADS = 3  # the child's store calls at once
_TELL_EVERY = 0.05  # seconds: at most this often a line of commits to the child

_settings = cattrs.Converter()
_settings.register_unstructure_hook(Path, str)
_settings.register_structure_hook(Path, lambda value, _: Path(value))


class FollowerProcess:
    """Runs and watches the child that writes the log; the parent's half of the pipes."""

    def __init__(self, settings: Settings, ledger: Ledger, head: LogHead, position: int) -> None:
        self._settings = settings
        self._ledger = ledger
        self._head = head
        self.position = position  # as the child last reported (the stored one at first)
        self.stuck = False
        self.exits = 0  # times the child exited (each is logged, then it starts again)
        self._running = False  # while a child runs, readers wait for its reports
        self._asked = 0  # the newest notification a reader waits for
        self._poke = trio.Event()  # something to tell the child: a commit or an ask
        self._ask = trio.Event()  # a reader asks
        self._reported = trio.Event()  # the child reported, or exited
        self._settled = trio.Event()  # the first child reported, or exited

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Run the child until cancelled, starting it again whenever it exits. Started
        once the child first reported a tree (at a first start, only once it signed the
        empty tree: there is a checkpoint to fetch) or first exited."""
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._watch_commits)
            nursery.start_soon(self._keep_running)
            await self._settled.wait()
            task_status.started()

    async def _keep_running(self) -> None:
        failures = 0
        while True:
            began = trio.current_time()
            try:
                code: int | str | None = await self._run_child()
            except OSError as exc:  # it could not even start
                code = f"none: {type(exc).__name__}: {exc}"
            self._running = False
            self._wake_readers()
            self._settled.set()
            self.exits += 1
            failures = 1 if trio.current_time() - began > _RAN_WELL else failures + 1
            delay = _RESTART.delay(failures)
            log.error(
                "the audit follower process exited (code %s): the log does not grow"
                " until it runs again, in %.0f s",
                code,
                delay,
            )
            await trio.sleep(delay)

    async def wait_current(self) -> None:
        """Read-your-writes, as the inline follower's: wait until the child reports every
        notification committed so far, unless it is stuck or not running (then the log
        is read as it stands).

        Raises:
            StoreUnavailable: the store is away, so the log cannot catch up.
        """
        target = self._ledger.last_committed
        while self.position < target and self._running and not self.stuck:
            if self._ledger.bridge.store.away:
                raise StoreUnavailable("the audit log cannot catch up while the store is away")
            if target > self._asked:
                self._asked = target
                self._ask.set()
                self._ask = trio.Event()
                self._poked()
            await self._reported.wait()

    async def _run_child(self) -> int | None:
        self._running = True
        async with trio.open_nursery() as nursery:
            process: trio.Process = await nursery.start(
                partial(
                    trio.run_process,
                    _COMMAND,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    check=False,
                    deliver_cancel=_close_stdin,
                )
            )
            assert process.stdin is not None and process.stdout is not None
            nursery.start_soon(self._tell, process.stdin)
            await self._follow_reports(process.stdout)
            await process.wait()
            nursery.cancel_scope.cancel()
        return process.returncode

    async def _tell(self, stdin: trio.abc.SendStream) -> None:
        told = asked = 0
        try:
            await stdin.send_all(_settings_line(self._settings))
            while True:
                committed = self._ledger.last_committed
                if self._asked > asked:
                    asked = max(self._asked, committed)
                    await stdin.send_all(f"{asked} now\n".encode())
                elif committed > told:
                    await stdin.send_all(f"{committed}\n".encode())
                    # The child pauses half a second before a page anyway: the commits
                    # of the next moments are told in one line (unless a reader asks).
                    with trio.move_on_after(_TELL_EVERY):
                        await self._ask.wait()
                else:
                    await self._poke.wait()
                    continue
                told = max(told, committed)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            return  # the child is gone: its exit is reported from its stdout

    async def _watch_commits(self) -> None:
        seen = self._ledger.last_committed
        while True:
            await self._ledger.wait_committed(seen)
            seen = self._ledger.last_committed
            self._poked()

    async def _follow_reports(self, stdout: trio.abc.ReceiveStream) -> None:
        async for line in _lines(stdout):
            try:
                report = json.loads(line)
                position, stuck = int(report["position"]), bool(report["stuck"])
                tree = None
                if report["size"] is not None:
                    root = bytes.fromhex(report["root"])
                    tree = TreeHead(int(report["size"]), root, int(report["checkpointed"]))
            except (ValueError, KeyError, TypeError):
                log.warning("the audit follower process wrote a line that is not a report")
                continue
            self.position, self.stuck = position, stuck
            if tree is not None and tree != self._head.tree:
                self._head.advance(tree)
            self._wake_readers()
            if tree is not None:
                self._settled.set()

    def _poked(self) -> None:
        self._poke.set()
        self._poke = trio.Event()

    def _wake_readers(self) -> None:
        self._reported.set()
        self._reported = trio.Event()


async def _close_stdin(process: trio.Process) -> None:
    """Stop the child as it expects (its stdin closes), then for good if it lingers."""
    if process.stdin is not None:
        await process.stdin.aclose()
    with trio.move_on_after(_STOP_WITHIN):
        await process.wait()
        return
    log.warning("the audit follower process did not stop within %g s: killing it", _STOP_WITHIN)
    process.kill()


def _settings_line(settings: Settings) -> bytes:
    return json.dumps(_settings.unstructure(settings)).encode() + b"\n"


async def _lines(stream: trio.abc.ReceiveStream) -> AsyncIterator[bytes]:
    """The stream's lines, without their ends, until it ends."""
    pending = b""
    async for chunk in stream:
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            yield line


# -- the child ----------------------------------------------------------------------


def follow_for_parent() -> None:
    """The child's main: follow the ledger for the server that started it."""
    # The server stops it by closing its stdin, after its own last requests: a Ctrl-C
    # or a service manager's SIGTERM to the whole group must not stop it first.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    sys.exit(trio.run(_follow))


async def _follow() -> int:
    lines = _lines(trio.lowlevel.FdStream(os.dup(sys.stdin.fileno())))
    first = await anext(lines, None)
    if first is None:
        return 0  # the parent went away before it said anything
    settings = _settings.structure(json.loads(first), Settings)
    # A page's read or write, the timer's checkpoint, a probe: a few connections do.
    settings = attrs.evolve(settings, db_threads=min(settings.db_threads, _THREADS))
    configure_logging(settings.log_level, settings.log_format)
    bridge = Bridge(settings.db_threads)
    try:
        store = await bridge.run(open_view_store, settings)
    except Exception as exc:
        log.error("the audit follower cannot open the store: %s", describe_store_error(exc))
        return 1
    try:
        ledger = await bridge.run(Ledger, settings, bridge)
    except Exception as exc:
        log.error("the audit follower cannot open the ledger: %s", describe_store_error(exc))
        await bridge.run_always(store.close)
        return 1
    try:
        reporter = _Reporter(trio.lowlevel.FdStream(os.dup(sys.stdout.fileno())))
        signer = await bridge.run(stored_signer, settings, AuditStore(store))
        follower = await open_follower(settings, ledger, store, bridge, signer, reporter.changed)
        async with trio.open_nursery() as nursery:
            await nursery.start(
                bridge.watch([ledger.probe_sync, store.probe], settings.store_timeout).run
            )
            nursery.start_soon(reporter.run, follower)
            await nursery.start(follower.run)
            await _listen(lines, ledger, follower.runner, nursery)
            nursery.cancel_scope.cancel()  # the parent closed our stdin: stop
        return 0
    finally:
        with trio.CancelScope(shield=True):
            await bridge.run_always(store.close)
            await bridge.run_always(ledger.close)


async def _listen(
    lines: AsyncIterator[bytes],
    ledger: Ledger,
    runner: ProjectionRunner,
    nursery: trio.Nursery,
) -> None:
    """Take the parent's news of commits until it closes the pipe."""
    async for line in lines:
        position, _, now = line.decode().partition(" ")
        ledger.note_committed(int(position))
        if now:
            nursery.start_soon(_page_now, runner, int(position))


async def _page_now(runner: ProjectionRunner, position: int) -> None:
    # Which ends the runner's pause. While the store is away there is nothing to do: the
    # parent's reader answers 503 itself.
    with contextlib.suppress(StoreUnavailable):
        await runner.wait_projected(position)


class _Reporter:
    """Writes where the log is to the parent when it changed (looked at after each page
    and checkpoint, and every second)."""

    def __init__(self, stdout: trio.abc.SendStream) -> None:
        self._stdout = stdout
        self._tree: TreeHead | None = None
        self._changed = trio.Event()

    def changed(self, tree: TreeHead) -> None:
        self._tree = tree
        self._changed.set()
        self._changed = trio.Event()

    async def run(self, follower: AuditFollower) -> None:
        runner = follower.runner
        last = b""
        while True:
            with trio.move_on_after(_REPORT_EVERY):
                await self._changed.wait()
            tree = self._tree
            report = {
                "position": runner.position,
                "stuck": runner.stuck is not None,
                "size": tree.size if tree else None,
                "root": tree.root.hex() if tree else None,
                "checkpointed": tree.checkpointed if tree else None,
            }
            line = json.dumps(report).encode() + b"\n"
            if line != last:
                try:
                    await self._stdout.send_all(line)
                except trio.BrokenResourceError:
                    return  # the parent is gone: our stdin closes too, and we stop
                last = line
