"""The session transcript table (wire contract §8.3), and the text the CLI shows of a message."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from atp.cli._output import first_text, when
from atp.cli._transcript import Transcript, delivery_state, sort_key
from atp.client import MessageStatus
from tests.support.helpers import text

CODEX = "atp://agent/agt_CODEX"
CLAUDE = "atp://agent/agt_CLAUDE"
ALIASES = {CODEX: "codex-atp", CLAUDE: "claude-123"}

# The contract's literal example; its second row goes on past the "…".
HEADER = "Seq  Time                  Sender      Recipient   Delivery   ACK        Message"
ROW_1 = "1    2026-05-27T12:00:00Z  codex-atp   claude-123  delivered  accepted   opening turn"
ROW_2 = (
    "2    2026-05-27T12:01:00Z  claude-123  codex-atp   queued     -          "
    "reply turn with a longer message that should wrap …"
)
FIRST_LINE = (  # 114 characters: "because" no longer fits in 120
    "reply turn with a longer message that should wrap once it goes past the "
    "one hundred and twenty character limit set"
)
SECOND_LINE = "because the column is narrow"


def name(address: str) -> str:
    return ALIASES.get(address, address)


def status(
    seq: int | None = 1,
    created: str | None = "2026-05-27T12:00:00.000000Z",
    sender: str = CODEX,
    recipient: str = CLAUDE,
    payload: Any = None,
    carrier: str = "queued",
    ack: str | None = None,
    deliveries: tuple[str, ...] = (),
    message_id: str = "msg_1",
) -> MessageStatus:
    """A message status shaped as the contract's §1.8 object."""
    message: dict[str, Any] = {
        "id": message_id, "from": sender, "to": recipient, "trust": "trusted",
        "payload": text(body="hi") if payload is None else payload,
        "content_type": "application/a2a+json", "a2a_version": "1.0",
        "created_at": created, "expires_at": "2026-06-03T12:00:00.000000Z",
    }  # fmt: skip
    if seq is not None:
        message |= {"session_id": "ses_1", "session_sequence": seq}
    return MessageStatus.of(
        {
            "message": message,
            "carrier_status": carrier,
            "ack_status": ack,
            "terminal_at": None,
            "deliveries": [{"id": f"dlv_{i}", "status": s} for i, s in enumerate(deliveries)],
        }
    )


def example_rows() -> list[MessageStatus]:
    opening = status(
        1, payload=text(body="opening turn"), carrier="delivered", ack="accepted",
        deliveries=("delivered",),
    )  # fmt: skip
    reply = status(
        2, "2026-05-27T12:01:00.000000Z", CLAUDE, CODEX,
        text(body=f"{FIRST_LINE}  {SECOND_LINE}"), message_id="msg_2",
    )  # fmt: skip
    return [opening, reply]


def test_the_contract_example_is_reproduced() -> None:
    rows = example_rows()
    transcript = Transcript(name, rows, ALIASES.values())
    assert transcript.header() == HEADER
    assert transcript.row(rows[0]) == [ROW_1]
    first, *rest = transcript.row(rows[1])
    assert first.startswith(ROW_2.removesuffix(" …"))
    assert first == ROW_2.removesuffix("…") + FIRST_LINE.removeprefix(
        "reply turn with a longer message that should wrap "
    )
    assert len(first) - HEADER.index("Message") == len(FIRST_LINE) <= 120
    assert rest == [" " * HEADER.index("Message") + SECOND_LINE]


def test_an_over_cap_cell_is_cut_with_a_tilde() -> None:
    stranger = "atp://agent/agt_" + "X" * 24
    assert len(stranger) == 40
    row = status(sender=stranger)
    transcript = Transcript(name, [row], ALIASES.values())
    header = transcript.header()
    assert header.startswith("Seq  Time                  " + "Sender".ljust(24) + "  Recipient ")
    line = transcript.row(row)[0]
    sender_at = header.index("Sender")
    assert line[sender_at : sender_at + 26] == stranger[:23] + "~  "
    assert line[header.index("Recipient") :].startswith("claude-123  ")


def test_known_aliases_widen_the_columns_without_rows() -> None:
    header = Transcript(name, [], ["a-rather-long-alias"]).header()
    assert header == (
        "Seq  Time  " + "Sender".ljust(19) + "  " + "Recipient".ljust(19)
        + "  Delivery   ACK        Message"
    )  # fmt: skip


def test_an_alias_longer_than_the_cap_is_capped() -> None:
    header = Transcript(name, [], ["a" * 40]).header()
    assert header.index("Recipient") - header.index("Sender") == 24 + 2


def test_the_time_is_shown_in_utc_and_a_missing_sequence_as_dash() -> None:
    row = status(seq=None, created="2026-05-27T14:00:00+02:00")
    line = Transcript(name, [row], ALIASES.values()).row(row)[0]
    assert line.startswith("-    2026-05-27T12:00:00Z  codex-atp ")


def test_a_message_without_text_says_so() -> None:
    row = status(payload={"parts": [{"data": {"x": 1}}]})
    line = Transcript(name, [row], ALIASES.values()).row(row)
    assert line[0].endswith("  non-text payload")
    assert len(line) == 1


@pytest.mark.parametrize(
    ("deliveries", "carrier", "expected"),
    [
        (("failed", "retry_scheduled", "leased", "delivered"), "queued", "delivered"),
        (("failed", "retry_scheduled", "leased"), "queued", "leased"),
        (("failed", "retry_scheduled"), "queued", "retry_scheduled"),
        (("failed",), "delivery_failed", "failed"),
        (("pending",), "queued", "queued"),
        ((), "expired", "expired"),
        ((), "", "-"),
    ],
)
def test_delivery_state_precedence(
    deliveries: tuple[str, ...], carrier: str, expected: str
) -> None:
    assert delivery_state(status(deliveries=deliveries, carrier=carrier)) == expected


def test_rows_sort_by_sequence_then_time_then_id() -> None:
    late = status(2, "2026-05-27T12:05:00.000000Z", message_id="msg_a")
    early_b = status(2, "2026-05-27T12:01:00.000000Z", message_id="msg_b")
    early_a = status(2, "2026-05-27T12:01:00.000000Z", message_id="msg_a")
    first = status(1, "2026-05-27T12:09:00.000000Z", message_id="msg_z")
    ordered = sorted([late, early_b, first, early_a], key=sort_key)
    assert [(s.message.session_sequence, s.message.id) for s in ordered] == [
        (1, "msg_z"), (2, "msg_a"), (2, "msg_b"), (2, "msg_a"),
    ]  # fmt: skip
    assert ordered[3] is late


def test_first_text_squeezes_whitespace() -> None:
    assert first_text(text(body="  hello \n\t  there   world\n")) == "hello there world"


def test_first_text_takes_the_first_text_part() -> None:
    payload = {"parts": [{"data": {}}, {"text": "second"}, {"text": "third"}]}
    assert first_text(payload) == "second"


def test_first_text_cuts_at_120_characters() -> None:
    exact = "x" * 120
    assert first_text(text(body=exact)) == exact
    cut = first_text(text(body="y" * 121))
    assert cut == "y" * 119 + "~"
    assert len(cut) == 120
    assert first_text(text(body="z" * 300), width=None) == "z" * 300


@pytest.mark.parametrize(
    "payload", [None, "text", {}, {"parts": []}, {"parts": [{"text": 3}]}, {"parts": ["text"]}]
)
def test_first_text_of_a_non_text_payload(payload: Any) -> None:
    assert first_text(payload) == "non-text payload"


def test_when_prints_utc_with_microseconds() -> None:
    moment = datetime(2026, 5, 27, 14, 0, 0, 1500, tzinfo=timezone(timedelta(hours=2)))
    assert when(moment) == "2026-05-27T12:00:00.001500Z"
    assert when(datetime(2026, 5, 27, 12, tzinfo=UTC)) == "2026-05-27T12:00:00.000000Z"
    assert when(None) == "-"
    assert when("2026-05-27T12:00:00Z") == "2026-05-27T12:00:00Z"
