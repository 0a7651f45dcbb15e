"""The log format: one JSON object (or one text line) per record, request ids, no tracebacks."""

from __future__ import annotations

import json
import logging
from datetime import datetime

import pytest

from atp.observe import REQUEST_ID, configure_logging, describe_exception
from tests.support.log_capture import captured_logs

log = logging.getLogger("atp.tests.logging")


def test_a_json_line_has_timestamp_level_logger_message_and_extras() -> None:
    with captured_logs("info", "json") as logs:
        log.info("sent %d", 3, extra={"route": "/api/messages"})
    [record] = logs.records()
    assert list(record)[:4] == ["timestamp", "level", "logger", "message"]
    assert record["level"] == "info" and record["logger"] == "atp.tests.logging"
    assert record["message"] == "sent 3" and record["route"] == "/api/messages"
    moment = datetime.fromisoformat(record["timestamp"].replace("Z", "+00:00"))
    assert record["timestamp"].endswith("Z") and moment.utcoffset() is not None
    assert "request_id" not in record  # logged outside any request


def test_lines_logged_in_a_request_context_carry_its_id() -> None:
    with captured_logs("info", "json") as logs:
        token = REQUEST_ID.set("req-0123456789abcdefghij")
        try:
            log.warning("inside")
        finally:
            REQUEST_ID.reset(token)
        log.warning("after")
    inside, after = logs.records()
    assert inside["request_id"] == "req-0123456789abcdefghij"
    assert "request_id" not in after


def raise_with_secret() -> None:
    raise ValueError("payload ak_0123456789abcdefghij")


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_an_exception_is_logged_by_class_and_place_only(fmt: str) -> None:
    with captured_logs("info", fmt) as logs:
        try:
            raise_with_secret()
        except ValueError:
            log.exception("it failed")
            logging.getLogger("hypercorn.error").error("Error in ASGI Framework", exc_info=True)
    text = "\n".join(logs.lines())
    assert len(logs.lines()) == 2
    assert "ak_0123456789abcdefghij" not in text and "Traceback" not in text
    assert f"ValueError at {__file__}:" in text
    if fmt == "json":
        first = logs.records()[0]
        assert first["error"].startswith("ValueError at ") and first["message"] == "it failed"


def test_exception_groups_name_their_first_exception() -> None:
    try:
        raise ExceptionGroup("group", [KeyError("k")])
    except ExceptionGroup as group:
        described = describe_exception(group)
    assert described.startswith("ExceptionGroup[KeyError] at ")


def test_text_lines_escape_control_characters() -> None:
    with captured_logs("info", "text") as logs:
        log.info("forged\n2026-01-01T00:00:00Z INFO atp.access fake", extra={"who": "a\x1b[31m"})
    [line] = logs.lines()
    assert "\\n2026" in line and "\\x1b[31m" in line
    assert " INFO atp.tests.logging forged" in line


def test_the_level_filters_lower_records() -> None:
    with captured_logs("warning", "json") as logs:
        log.debug("d")
        log.info("i")
        log.warning("w")
        log.error("e")
    assert [r["message"] for r in logs.records()] == ["w", "e"]
    with captured_logs("debug", "json") as logs:
        log.debug("d")
    assert [r["message"] for r in logs.records()] == ["d"]


def test_hypercorns_bind_banner_is_dropped_and_its_errors_kept() -> None:
    with captured_logs("info", "json") as logs:
        hypercorn = logging.getLogger("hypercorn.error")
        hypercorn.info("Running on http://127.0.0.1:4000 (CTRL + C to quit)")
        hypercorn.warning("something else")
    assert [r["message"] for r in logs.records()] == ["something else"]


def test_bad_levels_and_formats_are_refused() -> None:
    with pytest.raises(ValueError, match="log level"):
        configure_logging("verbose", "json")
    with pytest.raises(ValueError, match="log format"):
        configure_logging("info", "xml")


def test_every_line_is_one_json_object_even_with_odd_extras() -> None:
    with captured_logs("info", "json") as logs:
        log.info("odd", extra={"when": datetime(2026, 1, 1), "what": object(), "err": KeyError()})
    [line] = logs.lines()
    record = json.loads(line)
    assert record["when"] == "2026-01-01T00:00:00" and record["err"] == "KeyError"
