"""The carrier's logging, configured once: one handler on the root logger, text or JSON.

``atp serve``, ``atp migrate`` and ``atp projections rebuild`` call
:func:`configure_logging` before anything logs. Every logger (ours, Hypercorn's,
Quart's) propagates to the root, so every line has the same shape and the same
guarantees:

- JSON is one object per line (python-json-logger; docs/architecture.md says why):
  ``timestamp`` (ISO-8601, UTC), ``level``, ``logger``, ``message``, ``request_id``
  when the line was logged while serving a request, and the record's extra fields.
- No traceback and no exception text ever reaches the log: an exception attached to
  a record (``log.exception``, a library's ``exc_info=True``) is written as its class
  and the place it was raised (``ValueError at /path/x.py:12``), because its text
  can quote a payload, a header or a database URL.
- Text lines escape control characters, so a value taken from a request cannot
  forge a line.
"""

from __future__ import annotations

import json
import logging
import sys
import time
import traceback
from datetime import datetime
from types import TracebackType
from typing import IO, Any

from pythonjsonlogger.json import JsonFormatter as _BaseJsonFormatter

from atp.observe._context import REQUEST_ID
from atp.settings import LOG_FORMATS, LOG_LEVELS

__all__ = [
    "JsonFormatter",
    "TextFormatter",
    "configure_logging",
    "describe_exception",
]

# Attributes every LogRecord has: anything else on a record is an extra field (and
# ``request_id``, which our filter adds after the extras).
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
}
# Control characters (and DEL) written as escapes in text lines.
_ESCAPES = {c: f"\\x{c:02x}" for c in (*range(0x20), 0x7F)} | {0x0A: "\\n", 0x0D: "\\r"}

_ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None] | tuple[None, None, None]


def describe_exception(exc: BaseException | None) -> str:
    """``ClassName at file:line`` of where ``exc`` was raised; never its text."""
    if exc is None:
        return "None"
    name = type(exc).__name__
    if isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        name = f"{name}[{describe_exception(exc.exceptions[0])}]"
    frames = traceback.extract_tb(exc.__traceback__) if exc.__traceback__ else []
    if not frames:
        return name
    return f"{name} at {frames[-1].filename}:{frames[-1].lineno}"


_second: tuple[int, str] = (-1, "")  # the last second formatted, and its text


def _timestamp(record: logging.LogRecord) -> str:
    """ISO-8601 in UTC with milliseconds: ``2026-12-06T15:05:18.558Z``."""
    global _second
    second = int(record.created)
    if _second[0] != second:  # one tuple, replaced whole: safe from any thread
        _second = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
    return f"{_second[1]}.{int(record.msecs):03d}Z"


def _request_id(record: logging.LogRecord) -> bool:
    """Filter: stamp the record with the request id of the context it was logged in."""
    request_id = REQUEST_ID.get()
    if request_id is not None:
        record.request_id = request_id
    return True


def _json_default(value: object) -> object:
    """Extra fields that JSON cannot hold: exceptions by class and place, else ``str``."""
    if isinstance(value, BaseException):
        return describe_exception(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


_ENCODER = json.JSONEncoder(default=_json_default)


class JsonFormatter(_BaseJsonFormatter):
    """One JSON object per record; exceptions by class and place only."""

    def __init__(self) -> None:
        super().__init__()
        self.json_default = _json_default
        self.json_encoder = None

    def jsonify_log_record(self, log_data: dict[str, Any]) -> str:
        """The record as JSON, with one encoder made once (``json.dumps`` with options
        builds a new one for every call)."""
        return _ENCODER.encode(log_data)

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        """``timestamp``, ``level``, ``logger``, ``message``, the extras, ``request_id``.

        The library's hook for the fields, written for the one shape we log: its
        general version (renames, defaults, reserved lists) was half of the access
        line's cost.
        """
        log_data["timestamp"] = _timestamp(record)
        log_data["level"] = record.levelname.lower()
        log_data["logger"] = record.name
        log_data["message"] = record.message
        for key, value in vars(record).items():
            if key not in _STANDARD:
                log_data[key] = value
        if message_dict.get("exc_info"):
            log_data["error"] = message_dict["exc_info"]

    def formatException(self, ei: _ExcInfo) -> str:
        """The exception's class and place, never its text or traceback."""
        return describe_exception(ei[1])

    def formatStack(self, stack_info: str) -> str:
        """Stacks are not logged (a traceback by another name)."""
        return ""


class TextFormatter(logging.Formatter):
    """``<timestamp> <LEVEL> <logger> <message> key=value ...`` on one line."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line, control characters escaped."""
        parts = [_timestamp(record), record.levelname, record.name, record.getMessage()]
        parts.extend(
            f"{key}={value}" for key, value in vars(record).items() if key not in _STANDARD
        )  # the extras, then ``request_id``
        if record.exc_info:
            parts.append(f"error={describe_exception(record.exc_info[1])}")
        return " ".join(parts).translate(_ESCAPES)


def configure_logging(
    level: str = "info", fmt: str | None = None, stream: IO[str] | None = None
) -> logging.Handler:
    """Send every log record at ``level`` or above to ``stream`` (stderr), as ``fmt``.

    ``fmt`` is ``"text"`` or ``"json"``; ``None`` picks text when the stream is a
    terminal and JSON otherwise. Calling it again replaces the previous handler.

    Raises:
        ValueError: an unknown level or format.
    """
    if level not in LOG_LEVELS:
        raise ValueError(f"unknown log level {level!r}")
    stream = sys.stderr if stream is None else stream
    if fmt is None:
        fmt = "text" if stream.isatty() else "json"
    if fmt not in LOG_FORMATS:
        raise ValueError(f"unknown log format {fmt!r}")
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(_request_id)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())  # the names are logging's own, in lower case
    # No format here shows the caller, thread or process: skip finding them for each
    # record (the logging docs' "Optimization"; the access line is on the hot path).
    logging._srcfile = None
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    logging.captureWarnings(True)  # Python's warnings too, as records (``py.warnings``)
    # Hypercorn announces each bind; `atp serve` says it once, with the store.
    hypercorn = logging.getLogger("hypercorn.error")
    if _not_a_bind_banner not in hypercorn.filters:
        hypercorn.addFilter(_not_a_bind_banner)
    return handler


def _not_a_bind_banner(record: logging.LogRecord) -> bool:
    return not (record.levelno == logging.INFO and str(record.msg).startswith("Running on "))
