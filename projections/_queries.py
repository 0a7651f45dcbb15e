"""Reads over the views, for the API and for actors that rehydrate.

Every method runs its SQL in a worker thread (``Bridge.read``: tried once more after
a blip, 503 while the store is away). Callers that need read-your-writes
first wait on ``ProjectionRunner.wait_current()``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import attrs

from atp.ledger import Bridge
from atp.projections._amtp_queries import AmtpQueries
from atp.projections._store import ViewStore
from atp.wire import iso, session_object

__all__ = ["AgentRow", "KeyOwner", "MessageRow", "Queries", "SessionRow"]


# A2A task states (atp.wire, task_state) as conditions on a message's row.
_TASK_STATES = {
    "TASK_STATE_SUBMITTED": "ack_status IS NULL AND carrier_status IN ('queued', 'delivered')",
    "TASK_STATE_WORKING": "ack_status = 'accepted'",
    "TASK_STATE_COMPLETED": "ack_status = 'completed'",
    "TASK_STATE_FAILED": "(ack_status = 'failed' OR (ack_status IS NULL"
    " AND carrier_status IN ('expired', 'delivery_failed')))",
    "TASK_STATE_REJECTED": "(ack_status = 'rejected' OR (ack_status IS NULL"
    " AND carrier_status = 'rejected'))",
    "TASK_STATE_CANCELED": "carrier_status = 'canceled'",
}


@attrs.frozen
class KeyOwner:
    """Whose key a token hash is: an account's, or an active agent's."""

    kind: str
    account_id: str
    agent_id: str | None
    key_id: str | None = None


@attrs.frozen
class AgentRow:
    id: str
    account_id: str
    address: str
    display_name: str | None
    description: str | None
    status: str
    active_key_id: str | None

    def document(self) -> dict[str, Any]:
        """The agent object of ``GET /api/agents/:id``."""
        return {
            "id": self.id,
            "address": self.address,
            "display_name": self.display_name,
            "description": self.description,
            "active_agent_key_id": self.active_key_id,
        }


@attrs.frozen
class MessageRow:
    document: dict[str, Any]
    sender_agent_id: str
    sender_account_id: str
    recipient_agent_id: str
    recipient_account_id: str


@attrs.frozen
class SessionRow:
    id: str
    initiator_agent_id: str
    recipient_agent_id: str
    opening_message_id: str
    status: str
    last_sequence: int
    opened_at: str | None
    terminal_at: str | None
    created_at: str

    def document(self) -> dict[str, Any]:
        """The session object (contract §1.10)."""
        return session_object(
            self.id,
            self.status,
            self.initiator_agent_id,
            self.recipient_agent_id,
            self.opening_message_id,
            int(self.last_sequence),
            self.opened_at,
            self.terminal_at,
            self.created_at,
        )


_SESSION_COLUMNS = (
    "id, initiator_agent_id, recipient_agent_id, opening_message_id, status, last_sequence,"
    " opened_at, terminal_at, created_at"
)


class Queries:
    """Named reads over the views."""

    def __init__(self, store: ViewStore, bridge: Bridge) -> None:
        self.store = store
        self.bridge = bridge
        self.amtp = AmtpQueries(store, bridge)

    async def _rows(self, sql: str, params: Sequence[Any]) -> list[Any]:
        return await self.bridge.read(self.store.query, sql, params)

    async def _ids(self, sql: str, params: tuple[Any, ...]) -> list[str]:
        """The first column of each row, as text (ids for the sweep and the mailboxes)."""
        return [str(r[0]) for r in await self._rows(sql, params)]

    async def key_owner(self, token_hash: str) -> KeyOwner | None:
        """The owner of an unrevoked key; agent keys only while the agent is active."""
        rows = await self._rows(
            "SELECT k.kind, k.account_id, k.agent_id, k.key_id FROM atp_api_keys k"
            " LEFT JOIN atp_agents a ON a.id = k.agent_id"
            " WHERE k.token_hash = ? AND k.revoked = 0"
            " AND (k.kind IN ('account', 'auditor') OR a.status = 'active')",
            (token_hash,),
        )
        return KeyOwner(*rows[0]) if rows else None

    async def agent(self, agent_id: str) -> AgentRow | None:
        rows = await self._rows(
            "SELECT id, account_id, address, display_name, description, status, active_key_id"
            " FROM atp_agents WHERE id = ?",
            (agent_id,),
        )
        return AgentRow(*rows[0]) if rows else None

    async def message(self, message_id: str) -> MessageRow | None:
        rows = await self._rows(
            "SELECT document, sender_agent_id, sender_account_id, recipient_agent_id,"
            " recipient_account_id FROM atp_messages WHERE id = ?",
            (message_id,),
        )
        if not rows:
            return None
        document, *parties = rows[0]
        return MessageRow(json.loads(document), *parties)

    async def delivery_message(self, delivery_id: str) -> tuple[str, str] | None:
        """(message id, recipient agent id) of a delivery."""
        rows = await self._rows(
            "SELECT message_id, recipient_agent_id FROM atp_deliveries WHERE id = ?",
            (delivery_id,),
        )
        return (str(rows[0][0]), str(rows[0][1])) if rows else None

    async def open_message_ids(self, recipient_agent_id: str, limit: int) -> list[str]:
        """The recipient's oldest open messages, oldest first (a mailbox's window)."""
        return await self._ids(
            "SELECT message_id FROM atp_inbox WHERE recipient_agent_id = ?"
            " ORDER BY position LIMIT ?",
            (recipient_agent_id, limit),
        )

    async def open_turns_before(
        self, recipient_agent_id: str, session_id: str, sequence: int
    ) -> list[str]:
        """The recipient's open messages of a session with a lower sequence number."""
        return await self._ids(
            "SELECT m.id FROM atp_messages m JOIN atp_inbox i ON i.message_id = m.id"
            " WHERE m.session_id = ? AND m.session_sequence < ? AND i.recipient_agent_id = ?",
            (session_id, sequence, recipient_agent_id),
        )

    async def webhook_work(self, recipient_agent_id: str, limit: int) -> list[tuple[str, datetime]]:
        """(message id, due time) of the recipient's webhook deliveries still to try,
        earliest due first."""
        rows = await self._rows(
            "SELECT message_id, due_at FROM atp_deliveries"
            " WHERE recipient_agent_id = ? AND due_at IS NOT NULL ORDER BY due_at LIMIT ?",
            (recipient_agent_id, limit),
        )
        return [(str(m), datetime.fromisoformat(str(d).replace("Z", "+00:00"))) for m, d in rows]

    async def webhook_turn_ids(self, recipient_agent_id: str) -> list[str]:
        """The recipient's session turns with a webhook delivery still to try."""
        return await self._ids(
            "SELECT d.message_id FROM atp_deliveries d JOIN atp_messages m ON m.id = d.message_id"
            " WHERE d.recipient_agent_id = ? AND d.due_at IS NOT NULL"
            " AND m.session_id IS NOT NULL",
            (recipient_agent_id,),
        )

    async def overdue_recipients(self, now: datetime, limit: int = 1000) -> list[str]:
        """Recipients with open messages past their expiry (for the expiry sweep)."""
        return await self._ids(
            "SELECT DISTINCT recipient_agent_id FROM atp_inbox WHERE expires_at <= ? LIMIT ?",
            (iso(now), limit),
        )

    async def unknown_sender_times(
        self, recipient_agent_id: str, since: datetime
    ) -> list[tuple[str, str]]:
        """(sender account, created_at) of untrusted, unrejected messages since ``since``."""
        rows = await self._rows(
            "SELECT sender_account_id, created_at FROM atp_messages"
            " WHERE recipient_agent_id = ? AND trust = 'untrusted'"
            " AND carrier_status <> 'rejected' AND created_at >= ? ORDER BY created_at",
            (recipient_agent_id, iso(since)),
        )
        return [(str(a), str(t)) for a, t in rows]

    async def webhook_due_recipients(self, before: datetime, limit: int = 1000) -> list[str]:
        """Recipients with a webhook delivery due before ``before`` (for the sweep)."""
        return await self._ids(
            "SELECT DISTINCT recipient_agent_id FROM atp_deliveries WHERE due_at <= ? LIMIT ?",
            (iso(before), limit),
        )

    async def dead_letters(
        self, recipient_agent_id: str, after_message_id: str | None, limit: int
    ) -> list[tuple[str, dict[str, Any]]]:
        """(dead_lettered_at, status document) of parked messages, oldest first."""
        # The cursor's own time is read in the same query: one trip per page.
        cursor = (
            "COALESCE((SELECT dead_lettered_at FROM atp_messages"
            " WHERE id = ? AND recipient_agent_id = ?), '')"
        )
        after = (after_message_id, recipient_agent_id)
        rows = await self._rows(
            "SELECT dead_lettered_at, document FROM atp_messages"
            " WHERE recipient_agent_id = ? AND dead_lettered_at IS NOT NULL"
            f" AND (dead_lettered_at > {cursor} OR (dead_lettered_at = {cursor} AND id > ?))"
            " ORDER BY dead_lettered_at, id LIMIT ?",
            (recipient_agent_id, *after, *after, after_message_id or "", limit),
        )
        return [(str(at), json.loads(document)) for at, document in rows]

    async def sent_messages(
        self,
        sender_agent_id: str,
        recipient_agent_id: str,
        *,
        context_id: str | None = None,
        task_state: str | None = None,
        status_after: str | None = None,
        before: tuple[str, int] | None = None,
        limit: int = 50,
    ) -> tuple[list[tuple[str, int, str]], int]:
        """A page of (status time, position, message id) that one agent sent another,
        the latest status change first, after ``before`` (a row's time and position),
        in one A2A context and task state, and with a status change at or after
        ``status_after``, if given; and how many match in all."""
        where = ["sender_agent_id = ?", "recipient_agent_id = ?"]
        params: list[Any] = [sender_agent_id, recipient_agent_id]
        if context_id is not None:
            where.append("context_id = ?")
            params.append(context_id)
        if task_state is not None:
            where.append(_TASK_STATES.get(task_state, "1 = 0"))
        if status_after is not None:
            where.append("status_at >= ?")
            params.append(status_after)
        matching = " AND ".join(where)
        page_where, page_params = matching, [*params]
        if before is not None:
            page_where += " AND (status_at < ? OR (status_at = ? AND position < ?))"
            page_params += [before[0], before[0], before[1]]

        def read() -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
            page = self.store.query(
                f"SELECT status_at, position, id FROM atp_messages WHERE {page_where}"
                " ORDER BY status_at DESC, position DESC LIMIT ?",
                (*page_params, limit),
            )
            total = self.store.query(f"SELECT count(*) FROM atp_messages WHERE {matching}", params)
            return page, total

        page, total = await self.bridge.read(read)
        return [(str(s), int(p), str(i)) for s, p, i in page], int(total[0][0])

    async def session(self, session_id: str) -> SessionRow | None:
        rows = await self._rows(
            f"SELECT {_SESSION_COLUMNS} FROM atp_sessions WHERE id = ?",
            (session_id,),
        )
        return SessionRow(*rows[0]) if rows else None

    async def sessions_of(
        self, agent_id: str, status: str | None, after_session_id: str | None, limit: int
    ) -> list[SessionRow]:
        """An agent's sessions (either side), oldest first, after a session id."""
        by_status, params = ("", ()) if status is None else (" AND status = ?", (status,))
        rows = await self._rows(
            f"SELECT {_SESSION_COLUMNS} FROM atp_sessions"
            " WHERE (initiator_agent_id = ? OR recipient_agent_id = ?)"
            " AND position > COALESCE((SELECT position FROM atp_sessions WHERE id = ?), 0)"
            f"{by_status} ORDER BY position LIMIT ?",
            (agent_id, agent_id, after_session_id, *params, limit),
        )
        return [SessionRow(*row) for row in rows]

    async def transcript(
        self, session_id: str, after_sequence: int, limit: int | None
    ) -> list[MessageRow]:
        """A session's messages by sequence, after ``after_sequence``."""
        rows = await self._rows(
            "SELECT document, sender_agent_id, sender_account_id, recipient_agent_id,"
            " recipient_account_id FROM atp_messages WHERE session_id = ?"
            " AND session_sequence > ? ORDER BY session_sequence LIMIT ?",
            (session_id, after_sequence, 2**62 if limit is None else limit),
        )
        return [MessageRow(json.loads(document), *parties) for document, *parties in rows]

    async def pending_sessions(self, created_before: datetime, limit: int = 1000) -> list[str]:
        """Pending sessions requested before ``created_before`` (for the sweep)."""
        return await self._ids(
            "SELECT id FROM atp_sessions WHERE status = 'pending' AND created_at <= ? LIMIT ?",
            (iso(created_before), limit),
        )

    async def replayable_messages(
        self,
        recipient_agent_id: str,
        since: datetime | None,
        until: datetime | None,
        sender_agent_id: str | None,
        session_id: str | None,
        statuses: Sequence[str] | None,
        limit: int,
    ) -> list[str]:
        """The recipient's messages ever handed out, sent in ``[since, until)`` (by this
        sender, in this session, with a carrier or ACK status among ``statuses``), in
        send order."""
        where = ["m.recipient_agent_id = ?"]
        params: list[Any] = [recipient_agent_id]
        for clause, value in (
            ("m.created_at >= ?", iso(since)),
            ("m.created_at < ?", iso(until)),
            ("m.sender_agent_id = ?", sender_agent_id),
            ("m.session_id = ?", session_id),
        ):
            if value is not None:
                where.append(clause)
                params.append(value)
        if statuses:
            marks = ", ".join("?" * len(statuses))
            where.append(f"(m.carrier_status IN ({marks}) OR m.ack_status IN ({marks}))")
            params += [*statuses, *statuses]
        rows = await self._rows(
            "SELECT m.id FROM atp_messages m WHERE "
            + " AND ".join(where)
            + " AND EXISTS (SELECT 1 FROM atp_deliveries d WHERE d.message_id = m.id)"
            " ORDER BY m.position LIMIT ?",
            (*params, limit),
        )
        return [str(r[0]) for r in rows]

    async def running_replays(self, limit: int = 1000) -> list[str]:
        """Replays still running (for the sweep, which resumes them after a restart)."""
        return await self._ids(
            "SELECT id FROM atp_replays WHERE state = 'running' ORDER BY created_at LIMIT ?",
            (limit,),
        )

    async def owed_receipt_tasks(self, limit: int = 1000) -> list[str]:
        """Tasks with a push-notification config that may still be owed a receipt."""
        return await self._ids(
            "SELECT DISTINCT t.task_id FROM atp_push_configs c JOIN atp_receipt_tasks t"
            " ON t.ledger_id = c.ledger_id WHERE NOT c.settled LIMIT ?",
            (limit,),
        )

    async def accepted_messages(self, limit: int = 1000) -> list[tuple[str, str]]:
        """(message id, recipient) of messages ACKed accepted and not yet ended."""
        rows = await self._rows(
            "SELECT id, recipient_agent_id FROM atp_messages WHERE ack_status = 'accepted' LIMIT ?",
            (limit,),
        )
        return [(str(m), str(r)) for m, r in rows]

    async def waiting_inbox_replays(self, recipient_agent_id: str) -> list[tuple[str, str]]:
        """(replay id, message id) of the recipient's inbox replays not yet handed out,
        in the order they were started."""
        rows = await self._rows(
            "SELECT replay_id, message_id FROM atp_inbox_replays WHERE agent_id = ?"
            " ORDER BY position",
            (recipient_agent_id,),
        )
        return [(str(r), str(m)) for r, m in rows]
