"""The carrier's logging, configured as ``atp serve`` does, into memory for a test.

``captured_logs()`` installs ``atp.observe.configure_logging`` on a ``StringIO`` and
restores the root logger afterwards, so a test reads exactly the lines an operator
would (``lines()``), or them parsed as JSON (``records()``; a line that is not one
JSON object fails the test).
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from atp.observe import configure_logging

__all__ = ["CapturedLogs", "captured_logs"]


class CapturedLogs:
    """What the configured handler wrote."""

    def __init__(self, stream: io.StringIO) -> None:
        self.stream = stream

    def lines(self) -> list[str]:
        return self.stream.getvalue().splitlines()

    def records(self) -> list[dict[str, Any]]:
        records = []
        for line in self.lines():
            record = json.loads(line)
            assert isinstance(record, dict), line
            records.append(record)
        return records

    def access(self) -> list[dict[str, Any]]:
        """The ``atp.access`` lines, parsed."""
        return [r for r in self.records() if r["logger"] == "atp.access"]


@contextmanager
def captured_logs(level: str = "debug", fmt: str = "json") -> Iterator[CapturedLogs]:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    stream = io.StringIO()
    configure_logging(level, fmt, stream)
    try:
        yield CapturedLogs(stream)
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        logging.captureWarnings(False)
