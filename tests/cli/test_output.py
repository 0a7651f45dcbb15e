"""What the CLI prints: deliveries made public, JSON data, and tables."""

from __future__ import annotations

import io
import json
from datetime import datetime
from typing import Any

import pytest

from atp.cli._output import Output, as_json, public_deliveries, table
from atp.client import MessageStatus


def attempt(error: str | None) -> dict[str, Any]:
    return {
        "id": "wha_1", "attempt_number": 1, "response_status": 503, "error": error,
        "result": "retry_scheduled", "next_attempt_at": "2026-05-27T12:00:30.000000Z",
        "created_at": "2026-05-27T12:00:00.000000Z",
        "request_url": "https://recipient.example/hook?key=s3cr3t",
    }  # fmt: skip


def delivery(last_error: str | None = None, *attempts: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": "dlv_1", "mode": "webhook", "status": "retry_scheduled", "claimed_at": None,
        "leased_until": None, "attempt_count": len(attempts), "max_attempts": 3,
        "next_attempt_at": "2026-05-27T12:00:30.000000Z", "delivered_at": None,
        "last_error": last_error, "attempts": list(attempts),
    }  # fmt: skip


def test_public_deliveries_drop_the_request_url() -> None:
    shown = public_deliveries([delivery(None, attempt(None), attempt("timeout"))])
    assert len(shown) == 1
    assert [sorted(a) for a in shown[0]["attempts"]] == [
        ["attempt_number", "created_at", "error", "id", "next_attempt_at", "response_status",
         "result"],
    ] * 2  # fmt: skip
    assert "s3cr3t" not in json.dumps(shown)
    assert shown[0]["attempts"][1]["error"] == "timeout"
    assert shown[0]["attempts"][0]["response_status"] == 503


@pytest.mark.parametrize(
    "error",
    [
        "invalid token", "client_secret rejected", "bad SIGNATURE", "Authorization: x",
        "Bearer abc", "whsec_123", "could not read Raw Body", "request body too large",
        "TOKEN_expired",
    ],
)  # fmt: skip
def test_secretish_errors_become_internal_error(error: str) -> None:
    shown = public_deliveries([delivery(error, attempt(error))])[0]
    assert shown["last_error"] == "internal_error"
    assert shown["attempts"][0]["error"] == "internal_error"


@pytest.mark.parametrize("error", ["timeout", "nxdomain", "unsafe_webhook_url", None])
def test_other_errors_are_kept(error: str | None) -> None:
    shown = public_deliveries([delivery(error, attempt(error))])[0]
    assert shown["last_error"] == error
    assert shown["attempts"][0]["error"] == error


def test_public_deliveries_keep_the_other_fields_and_the_input() -> None:
    original = delivery("bearer x", attempt("bearer y"))
    shown = public_deliveries([original])[0]
    assert {k: v for k, v in shown.items() if k not in ("attempts", "last_error")} == {
        k: v for k, v in original.items() if k not in ("attempts", "last_error")
    }
    assert original["last_error"] == "bearer x"
    assert "request_url" in original["attempts"][0]


def test_a_polling_delivery_without_attempts() -> None:
    shown = public_deliveries([{"id": "dlv_2", "mode": "polling", "status": "leased"}])
    assert shown == [
        {"id": "dlv_2", "mode": "polling", "status": "leased", "last_error": None, "attempts": []}
    ]


def test_as_json_of_a_message_status() -> None:
    status = MessageStatus.of(
        {
            "message": {
                "id": "msg_1", "from": "atp://agent/agt_A", "to": "atp://agent/agt_B",
                "trust": "trusted", "payload": {"parts": [{"text": "hello"}]},
                "created_at": "2026-05-27T12:00:00.000000Z",
                "expires_at": "2026-06-03T12:00:00.000000Z",
            },
            "carrier_status": "delivered", "ack_status": "completed",
            "terminal_at": "2026-05-27T12:02:00.000000Z",
            "deliveries": [delivery("Bearer leaked", attempt("signature mismatch"))],
        }
    )  # fmt: skip
    data = as_json(status)
    assert data["message"]["created_at"] == "2026-05-27T12:00:00.000000Z"  # as on the wire
    assert datetime.fromisoformat(data["terminal_at"]) == status.terminal_at
    assert data["message"]["from"] == "atp://agent/agt_A"  # the API's names
    assert data["message"]["payload"] == {"parts": [{"text": "hello"}]}
    assert (data["carrier_status"], data["ack_status"]) == ("delivered", "completed")
    [shown] = data["deliveries"]
    assert shown["last_error"] == "internal_error"
    assert shown["attempts"][0]["error"] == "internal_error"
    assert "request_url" not in shown["attempts"][0]
    text = json.dumps(data)  # plain JSON data, nothing left to leak
    assert "s3cr3t" not in text and "leaked" not in text


def test_table_for_a_pipe_is_tab_separated() -> None:
    lines = table(["Alias", "Address"], [["b", "atp://agent/agt_2"], ["alpha", "x"]], False)
    assert lines == ["Alias\tAddress", "b\tatp://agent/agt_2", "alpha\tx"]


def test_table_for_a_terminal_pads_columns() -> None:
    lines = table(
        ["Alias", "Address", "N"], [["b", "atp://agent/agt_2", "1"], ["alphabet", "x", ""]], True
    )
    assert lines == [
        "Alias     Address            N",
        "b         atp://agent/agt_2  1",
        "alphabet  x",
    ]


def test_output_prints_lines_or_one_json_line() -> None:
    text_out, json_out = io.StringIO(), io.StringIO()
    Output(False, text_out).report(["a", "b"], {"k": 1})
    Output(True, json_out).report(["a", "b"], {"k": [1, "x"]})
    assert text_out.getvalue() == "a\nb\n"
    assert json_out.getvalue() == '{"k":[1,"x"]}\n'
