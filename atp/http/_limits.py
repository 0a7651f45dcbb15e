"""How many connections the server may hold: the open-files limit, raised, less room.

Every connection is a file descriptor. When a process runs out of them, ``accept``
fails with EMFILE: new clients, health checks included, wait in the kernel's queue
until they time out, and the stores, the webhook pushes and the log cannot open files
either (issue 19: about 1,100 connections did that under the usual soft limit of 1,024).
So at start the soft limit is raised to the hard one (a process may do that without
privileges), and the server holds at most ``soft limit - reserve`` connections, where
the reserve is room for everything else that needs descriptors.
"""

from __future__ import annotations

import attrs

from atp.settings import Settings

try:
    import resource
except ImportError:  # not a POSIX system: nothing to raise, nothing to read
    resource = None  # type: ignore[assignment]

__all__ = [
    "CONNECTIONS_CEILING",
    "OpenFiles",
    "max_connections",
    "raise_open_files_limit",
    "room_for_connections",
]

# Without a limit to read, and above it, what one process serves well: each idle
# connection costs Hypercorn a few tasks and buffers (see docs/operations.md).
CONNECTIONS_CEILING = 10_000
# Files besides connections and the pools below: listening sockets, the SQLite files
# (each store thread holds a database file and its WAL), pipes, the log, DNS lookups.
_FILES_RESERVE = 64
_FILES_PER_STORE_THREAD = 4
# Where the hard limit is "unlimited" (macOS), the soft one cannot be; ask for this.
_UNLIMITED_TARGET = 65_536


@attrs.frozen
class OpenFiles:
    """The process's open-files limit after :func:`raise_open_files_limit`."""

    soft: int | None  # None: unknown (no ``resource`` module)
    hard: int | None
    raised_from: int | None = None  # the soft limit before, if it was raised


def raise_open_files_limit() -> OpenFiles:
    """Raise the soft ``RLIMIT_NOFILE`` to the hard limit where allowed; return both.

    A refusal by the system is not an error: the limit stays as it was, and the
    connection cap follows it.
    """
    if resource is None:
        return OpenFiles(None, None)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = _UNLIMITED_TARGET if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):
            return OpenFiles(soft, _known(hard))
        return OpenFiles(target, _known(hard), raised_from=soft)
    return OpenFiles(_known(soft), _known(hard))


def max_connections(settings: Settings) -> int:
    """``settings.max_connections``, or the cap derived from the current soft limit:
    the limit less room for webhook pushes, store connections and files, at most
    :data:`CONNECTIONS_CEILING`, at least 1."""
    if settings.max_connections is not None:
        return settings.max_connections
    return room_for_connections(settings)


def room_for_connections(settings: Settings) -> int:
    """The cap the current soft limit leaves room for (what :func:`max_connections`
    derives when ``ATP_MAX_CONNECTIONS`` is not set)."""
    soft = _soft_limit()
    if soft is None:
        return CONNECTIONS_CEILING
    reserve = (
        settings.webhook_concurrency
        + _FILES_PER_STORE_THREAD * settings.db_threads
        + _FILES_RESERVE
    )
    return max(1, min(CONNECTIONS_CEILING, soft - reserve))


def _soft_limit() -> int | None:
    if resource is None:
        return None
    return _known(resource.getrlimit(resource.RLIMIT_NOFILE)[0])


def _known(limit: int) -> int | None:
    return None if resource is None or limit == resource.RLIM_INFINITY else limit
