"""The embedded store's writer lock: ``flock`` on ``<ATP_DATA_DIR>/ledger.lock``.

``flock`` (not ``lockf``/``fcntl`` record locks) because it belongs to the open file,
not to the process: closing another descriptor of the same file elsewhere in the
process cannot drop it, and a second ``open`` in the same process is refused like
another process would be. The kernel releases it when the process dies, however it
dies, so a crash leaves nothing to delete by hand. The file itself is never removed
(removing a lock file lets two processes lock two different files of one name); it
holds the holder as one JSON line while someone holds it, and is emptied on release.
Content left by a killed holder means nothing: only the lock counts.

The data directory must be on a local file system (NFS emulates ``flock`` with
record locks that a network failure can lose).
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from datetime import datetime
from pathlib import Path

from atp.ledger._ownership import Holder, LedgerInUse, LockState, Role, WriterLock

__all__ = ["FileLock"]

_LOCK_FILE = "ledger.lock"
# A holder writes its line just after taking the lock; a reader that finds the file
# locked but empty (or naming a process gone from this host) reads again this often,
# this many times.
_READ_RETRY = 0.05
_READS = 20


class FileLock(WriterLock):
    """The writer lock of the SQLite ledger in ``data_dir``."""

    def __init__(self, data_dir: Path, holder: Holder) -> None:
        super().__init__(f"the ledger at {data_dir}/", holder)
        self.path = data_dir / _LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock, or raise :class:`LedgerInUse` naming its holder."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            raise LedgerInUse(self.ledger, holder) from None
        except BaseException:
            os.close(fd)
            raise
        line = json.dumps(_encode(self.holder)) + "\n"
        os.ftruncate(fd, 0)
        os.pwrite(fd, line.encode(), 0)
        self._fd = fd
        self._set_state(LockState.HELD)

    def release(self) -> None:
        """Empty the file and unlock it (closing the descriptor unlocks)."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.ftruncate(fd, 0)
        finally:
            os.close(fd)


def _encode(holder: Holder) -> dict[str, object]:
    return {
        "role": holder.role.value,
        "pid": holder.pid,
        "host": holder.host,
        "since": holder.since.isoformat(),
    }


def _decode(raw: bytes) -> Holder | None:
    try:
        data = json.loads(raw)
        return Holder(
            Role(data["role"]),
            int(data["pid"]),
            str(data["host"]),
            datetime.fromisoformat(data["since"]),
        )
    except (ValueError, KeyError, TypeError):
        return None


def _read_holder(fd: int) -> Holder | None:
    """The holder recorded in the locked file. Blocking; only before the carrier starts."""
    for _ in range(_READS):
        holder = _decode(os.pread(fd, 4096, 0))
        if holder is not None and not holder.is_gone():
            return holder
        time.sleep(_READ_RETRY)  # the new holder has not written its line yet
    return None
