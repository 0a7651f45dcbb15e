"""The Session aggregate: its lifecycle, its turn numbers, and refusals that record
nothing (contract §1.12, §6)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from atp.domain import Session
from atp.errors import AtpError, InvalidAckTransition, NotFound, SessionNotOpen

NOW = datetime(2026, 5, 27, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(minutes=1)


def session() -> Session:
    return Session(
        session_id="ses_1",
        initiator_agent_id="agt_i",
        initiator_account_id="acct_i",
        recipient_agent_id="agt_r",
        recipient_account_id="acct_r",
        opening_message_id="msg_1",
        at=NOW,
    )


def pending() -> Session:
    return session()


def opened() -> Session:
    s = session()
    s.answer("accepted", LATER)
    return s


def ended(how: str) -> Callable[[], Session]:
    def make() -> Session:
        s = session()
        if how == "rejected":
            s.answer("rejected", LATER)
        elif how == "failed":
            s.expire(LATER)
        else:
            s.close("agt_i", LATER)
        return s

    return make


def pending_events(s: Session) -> list[type]:
    return [type(e) for e in s.collect_events()]


def test_a_new_session_is_pending_with_its_opening_as_turn_one() -> None:
    s = session()
    assert (s.status, s.last_sequence, s.next_sequence) == ("pending", 1, 2)
    assert pending_events(s) == [Session.Requested]


@pytest.mark.parametrize(
    ("ack", "status", "event"),
    [
        ("accepted", "open", Session.Accepted),
        ("rejected", "rejected", Session.Rejected),
        ("failed", "failed", Session.Failed),
    ],
)
def test_the_recipients_ack_of_the_opening_answers_it(ack: str, status: str, event: type) -> None:
    s = session()
    s.collect_events()
    s.answer(ack, LATER)
    assert s.status == status
    assert pending_events(s) == [event]
    assert (s.opened_at is not None) == (status == "open")
    assert (s.terminal_at is not None) == (status != "open")


def test_turns_are_numbered_in_order_once_open() -> None:
    s = opened()
    s.collect_events()
    assert [s.append_turn(f"msg_{n}") for n in (2, 3, 4)] == [2, 3, 4]
    assert pending_events(s) == [Session.TurnAppended] * 3


def test_either_participant_closes_it() -> None:
    for who in ("agt_i", "agt_r"):
        s = opened()
        s.close(who, LATER)
        assert (s.status, s.closed_by, s.terminal_at) == ("closed", who, LATER)


def test_a_blocked_initiator_is_refused_at_once() -> None:
    s = session()
    s.refuse(LATER)
    assert (s.status, s.terminal_at) == ("rejected", LATER)


def test_the_counterparty_of_each_participant() -> None:
    s = session()
    assert (s.counterparty("agt_i"), s.counterparty("agt_r")) == ("agt_r", "agt_i")
    with pytest.raises(NotFound):
        s.counterparty("agt_x")


# Every refusal: the session it is tried on, the attempt, and the error it raises.
REFUSALS: list[tuple[str, Callable[[], Session], Callable[[Session], object], type]] = [
    ("a turn before the answer", pending, lambda s: s.append_turn("msg_2"), SessionNotOpen),
    (
        "completing a pending one",
        pending,
        lambda s: s.answer("completed", LATER),
        InvalidAckTransition,
    ),
    ("answering it twice", opened, lambda s: s.answer("rejected", LATER), InvalidAckTransition),
    ("expiring an answered one", opened, lambda s: s.expire(LATER), InvalidAckTransition),
    ("closing by a stranger", opened, lambda s: s.close("agt_x", LATER), NotFound),
    *[
        (f"a turn once {how}", ended(how), lambda s: s.append_turn("msg_9"), SessionNotOpen)
        for how in ("rejected", "failed", "closed")
    ],
    *[
        (f"closing once {how}", ended(how), lambda s: s.close("agt_r", LATER), SessionNotOpen)
        for how in ("rejected", "failed", "closed")
    ],
    *[
        (
            f"answering once {how}",
            ended(how),
            lambda s: s.answer("accepted", LATER),
            InvalidAckTransition,
        )
        for how in ("rejected", "failed", "closed")
    ],
]


@pytest.mark.parametrize(
    ("make", "attempt", "error"),
    [refusal[1:] for refusal in REFUSALS],
    ids=[refusal[0] for refusal in REFUSALS],
)
def test_a_refusal_records_nothing_and_changes_nothing(
    make: Callable[[], Session], attempt: Callable[[Session], object], error: type[AtpError]
) -> None:
    s = make()
    s.collect_events()
    before = dict(vars(s))
    with pytest.raises(error):
        attempt(s)
    assert pending_events(s) == []
    assert vars(s) == before
