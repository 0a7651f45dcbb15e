"""The audit follower at its seam: what it recalls when it has forgotten an aggregate."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

from eventsourcing.utils import get_topic

from atp.audit import AuditStore, AuditView, NoteSigner
from atp.audit._directory import Entry
from atp.domain import Message, Session, aggregate_id
from atp.ledger import Bridge
from atp.projections import Statements, apply_migrations, open_view_store
from atp.settings import Settings

NOW = datetime(2026, 12, 6, tzinfo=UTC)


async def test_a_forgotten_session_answer_recalls_the_session_then_its_opening(
    tmp_path: Path,
) -> None:
    """Only the session's answer is in the page: the follower recalls the session from
    its first event, then (named only there) the opening, whose stored entry says that
    the recipient ACKed it: the answer is the recipient's, as a full replay says."""
    session = Session(
        session_id="ses_one", initiator_agent_id="agt_i", initiator_account_id="acct_a",
        recipient_agent_id="agt_r", recipient_account_id="acct_a",
        opening_message_id="msg_open", at=NOW,
    )  # fmt: skip
    opening = Message.create(
        "msg_open", sender_agent_id="agt_i", sender_account_id="acct_a",
        recipient_agent_id="agt_r", recipient_account_id="acct_a", trust="trusted",
        payload={}, at=NOW, expires_at=NOW + timedelta(days=1),
        session_id="ses_one", session_sequence=1,
    )  # fmt: skip
    (requested,) = session.collect_events()
    (sent,) = opening.collect_events()
    session.answer("accepted", NOW)
    (accepted,) = session.collect_events()
    firsts = {session.id: requested, opening.id: sent}
    asked: list[list[UUID]] = []

    async def first_events(ids: list[UUID]) -> dict[UUID, tuple[str, Any]]:
        asked.append(ids)
        return {i: (get_topic(type(firsts[i])), firsts[i]) for i in ids if i in firsts}

    bridge = Bridge(1)
    views = await bridge.run(open_view_store, Settings(data_dir=tmp_path))
    await bridge.run(apply_migrations, views)
    store = AuditStore(views)
    acked = Entry("message", "msg_open", ("agt_i", "agt_r"), ("acct_a",), "ses_one", None, True)
    kept = Statements()
    store.put_entries(kept, {aggregate_id("msg_open"): acked})
    await bridge.run(views.write, kept.statements)
    view = AuditView(store, bridge, NoteSigner("test/atp", bytes(32)), 1000, first_events)

    await view.prepare([(7, accepted)])
    out = Statements()
    view.apply(out, 7, accepted)
    view.flush(out)

    assert asked == [[session.id]]  # the opening came from the store, not the ledger
    record = json.loads(_record(out))
    assert (record["type"], record["actor"]) == ("session.accepted", "agt_r")
    await bridge.run(views.close)


def _record(out: Statements) -> str:
    """The record text of the page's one record row (column 11 of 12)."""
    params = next(p for s, p in out.statements if "atp_audit_records" in s)
    return str(list(params)[10])
