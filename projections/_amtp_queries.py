"""Reads of the AMTP surface (``/v1``): an agent's inbox, and the AMTP messages a caller
may see, over the messages and envelopes views."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import attrs

from atp.ledger import Bridge
from atp.projections._store import ViewStore

__all__ = ["STATUS_FILTERS", "AmtpQueries", "DirectoryRow", "SchemaRow", "WebhookRow"]

# AMTP's message statuses (``GET /v1/messages?status=``) over the local messages and
# relays that carry an AMTP message: failed if one of them failed (or none carries it to
# a recipient), delivered if every one was handed out, pending while any waits.
_FAILED = (
    "EXISTS (SELECT 1 FROM atp_amtp_recipients r LEFT JOIN atp_messages m"
    " ON m.id = r.local_message_id WHERE r.message_id = e.message_id AND (r.relay_status ="
    " 'failed' OR (r.relay_id IS NULL AND (m.id IS NULL"
    " OR m.carrier_status NOT IN ('queued', 'delivered')))))"
)
_UNDELIVERED = (
    "EXISTS (SELECT 1 FROM atp_amtp_recipients r LEFT JOIN atp_messages m"
    " ON m.id = r.local_message_id WHERE r.message_id = e.message_id AND (r.relay_status"
    " <> 'delivered' OR (r.relay_id IS NULL AND (m.id IS NULL"
    " OR m.carrier_status <> 'delivered'))))"
)
_STATUSES = {
    "failed": _FAILED,
    "delivered": f"NOT {_UNDELIVERED}",
    "pending": f"NOT {_FAILED} AND {_UNDELIVERED}",
}
STATUS_FILTERS = tuple(_STATUSES)


@attrs.frozen
class DirectoryRow:
    """An active agent as the AMTP directory shows it."""

    agent_id: str
    account_id: str
    name: str | None
    description: str | None
    push: bool  # it has an active webhook endpoint
    created_at: str
    supported_schemas: tuple[str, ...]  # none: it takes any message


@attrs.frozen
class SchemaRow:
    """A registered schema."""

    schema_id: str
    domain: str
    entity: str
    version: int
    definition: dict[str, Any]
    published_at: str


@attrs.frozen
class WebhookRow:
    """A live delivery-notification webhook (its secret is in the ledger, sealed)."""

    webhook_id: str
    agent_id: str | None  # None: the whole account's
    url: str
    events: tuple[str, ...]
    created_at: str

    def document(self) -> dict[str, Any]:
        """The webhook as its owner sees it (``/v1/webhooks``); never its secret, which
        only its registration answers."""
        return {
            "webhook_id": self.webhook_id,
            "url": self.url,
            "events": list(self.events),
            "scope": "account" if self.agent_id is None else "agent",
            "created_at": self.created_at,
        }


class AmtpQueries:
    """Named reads for ``atp.api.amtp``."""

    def __init__(self, store: ViewStore, bridge: Bridge) -> None:
        self.store = store
        self.bridge = bridge

    async def _rows(self, sql: str, params: tuple[Any, ...]) -> list[Any]:
        return await self.bridge.read(self.store.query, sql, params)

    async def local_message(self, amtp_message_id: str, agent_id: str) -> str | None:
        """The local message carrying an AMTP message to ``agent_id``, if any."""
        rows = await self._rows(
            "SELECT local_message_id FROM atp_amtp_recipients"
            " WHERE message_id = ? AND agent_id = ? AND local_message_id IS NOT NULL",
            (amtp_message_id, agent_id),
        )
        return str(rows[0][0]) if rows else None

    async def message_documents(self, message_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The status documents of local messages, by id (absent ones left out), in one
        read per 500."""
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(message_ids), 500):
            chunk = message_ids[start : start + 500]
            marks = ", ".join("?" * len(chunk))
            rows = await self._rows(
                f"SELECT id, document FROM atp_messages WHERE id IN ({marks})", tuple(chunk)
            )
            found.update((str(i), json.loads(d)) for i, d in rows)
        return found

    async def inbox(
        self, agent_id: str, *, since: str | None, read: bool | None, limit: int, offset: int
    ) -> tuple[list[dict[str, Any]], bool]:
        """A page of the agent's open messages, oldest first (each its status document),
        sent at or after ``since``, handed out before (``read``) or not; and whether more
        follow. A session's turns are left out: a session is answered through its own
        routes."""
        where = ["i.recipient_agent_id = ?", "m.session_id IS NULL"]
        params: list[Any] = [agent_id]
        if since is not None:
            where.append("m.created_at >= ?")
            params.append(since)
        if read is not None:
            where.append("m.carrier_status = ?")
            params.append("delivered" if read else "queued")
        rows = await self._rows(
            "SELECT m.document FROM atp_inbox i JOIN atp_messages m ON m.id = i.message_id"
            f" WHERE {' AND '.join(where)} ORDER BY i.position LIMIT ? OFFSET ?",
            (*params, limit + 1, offset),
        )
        return [json.loads(r[0]) for r in rows[:limit]], len(rows) > limit

    async def messages(
        self,
        viewer: tuple[str, str],
        *,
        sender: str | None,
        recipient: str | None,
        since: str | None,
        status: str | None,
        limit: int,
        offset: int,
    ) -> tuple[list[str], int]:
        """A page of the AMTP message ids ``viewer`` may see (``("agent", id)``: sent or
        received by that agent; ``("account", id)``: by its agents), newest first,
        filtered; and how many match in all."""
        kind, viewer_id = viewer
        column = "agent_id" if kind == "agent" else "account_id"
        where = [
            f"(e.sender_{column} = ? OR EXISTS (SELECT 1 FROM atp_amtp_recipients v"
            f" WHERE v.message_id = e.message_id AND v.{column} = ?))"
        ]
        params: list[Any] = [viewer_id, viewer_id]
        if sender is not None:
            where.append("lower(e.sender) = ?")
            params.append(sender)
        if recipient is not None:
            where.append(
                "EXISTS (SELECT 1 FROM atp_amtp_recipients w"
                " WHERE w.message_id = e.message_id AND w.address = ?)"
            )
            params.append(recipient)
        if since is not None:
            where.append("e.created_at >= ?")
            params.append(since)
        if status is not None:
            where.append(_STATUSES[status])
        matching = " AND ".join(where)

        def read() -> tuple[list[Any], list[Any]]:
            page = self.store.query(
                f"SELECT e.message_id FROM atp_amtp_messages e WHERE {matching}"
                " ORDER BY e.position DESC LIMIT ? OFFSET ?",
                (*params, limit, offset),
            )
            total = self.store.query(
                f"SELECT count(*) FROM atp_amtp_messages e WHERE {matching}", params
            )
            return page, total

        page, total = await self.bridge.read(read)
        return [str(r[0]) for r in page], int(total[0][0])

    async def agents(
        self, *, account_id: str | None = None, name: str | None = None, limit: int = 1000
    ) -> list[DirectoryRow]:
        """Active agents by name: an account's (named or not), or the carrier's named
        ones (the AMTP directory), or the one of ``name``."""
        where, params = ["status = 'active'"], []
        if account_id is not None:
            where.append("account_id = ?")
            params.append(account_id)
        else:
            where.append("name IS NOT NULL")
        if name is not None:
            where.append("name = ?")
            params.append(name)
        rows = await self._rows(
            "SELECT id, account_id, name, description, webhook_active, created_at,"
            f" supported_schemas FROM atp_agents WHERE {' AND '.join(where)}"
            " ORDER BY name, id LIMIT ?",
            (*params, limit),
        )
        return [
            DirectoryRow(i, a, n, d, bool(w), str(c), tuple(json.loads(s) if s else ()))
            for i, a, n, d, w, c, s in rows
        ]

    async def schemas(
        self, account_id: str, *, schema_id: str | None = None, pattern: str | None = None
    ) -> list[SchemaRow]:
        """The account's live schemas by id: one, those whose id, domain or
        domain.entity is ``pattern`` (AMTP's admin listing), or all."""
        where, params = ["account_id = ?", "deleted = 0"], [account_id]
        if schema_id is not None:
            where.append("schema_id = ?")
            params.append(schema_id)
        if pattern is not None:
            where.append("(schema_id = ? OR domain = ? OR domain || '.' || entity = ?)")
            params += [pattern, pattern, pattern]
        rows = await self._rows(
            "SELECT schema_id, domain, entity, version, definition, published_at"
            f" FROM atp_amtp_schemas WHERE {' AND '.join(where)} ORDER BY schema_id",
            tuple(params),
        )
        return [SchemaRow(i, d, e, int(v), json.loads(f), str(p)) for i, d, e, v, f, p in rows]

    async def pending_relays(self, limit: int = 1000) -> list[str]:
        """Relays to other domains still being attempted (the sweep wakes stopped ones)."""
        rows = await self._rows(
            "SELECT DISTINCT relay_id FROM atp_amtp_recipients WHERE relay_status = 'pending'"
            " LIMIT ?",
            (limit,),
        )
        return [str(r[0]) for r in rows]

    async def running_workflows(self, limit: int = 1000) -> list[str]:
        """Workflows still running (the sweep wakes stopped ones)."""
        rows = await self._rows(
            "SELECT workflow_id FROM atp_amtp_workflows WHERE status = 'in_progress' LIMIT ?",
            (limit,),
        )
        return [str(r[0]) for r in rows]

    async def webhooks(
        self, account_id: str, *, agent_id: str | None = None, webhook_id: str | None = None
    ) -> list[WebhookRow]:
        """The account's live webhooks, oldest first: all of them, or only the agent's
        own (``agent_id``), or the one by ``webhook_id``."""
        where, params = ["account_id = ?", "removed_at IS NULL"], [account_id]
        if agent_id is not None:
            where.append("agent_id = ?")
            params.append(agent_id)
        if webhook_id is not None:
            where.append("webhook_id = ?")
            params.append(webhook_id)
        rows = await self._rows(
            "SELECT webhook_id, agent_id, url, events, created_at FROM atp_amtp_webhooks"
            f" WHERE {' AND '.join(where)} ORDER BY position",
            tuple(params),
        )
        return [WebhookRow(i, a, u, tuple(json.loads(e)), str(c)) for i, a, u, e, c in rows]

    async def registrations(
        self, account_id: str, agent_id: str | None, url: str
    ) -> list[tuple[str, bool]]:
        """Every webhook an owner (an agent, or the account itself) registered for
        ``url``, oldest first, and whether it is live."""
        owner = "agent_id IS NULL" if agent_id is None else "agent_id = ?"
        rows = await self._rows(
            "SELECT webhook_id, removed_at IS NULL FROM atp_amtp_webhooks"
            f" WHERE account_id = ? AND {owner} AND url = ? ORDER BY position",
            (account_id, url) if agent_id is None else (account_id, agent_id, url),
        )
        return [(str(i), bool(live)) for i, live in rows]

    async def hearing_webhooks(self, message_id: str) -> list[str]:
        """The live webhooks that hear of the AMTP message: its sender's and its
        sender's account's, registered before it was accepted."""
        rows = await self._rows(
            "SELECT w.webhook_id FROM atp_amtp_webhooks w JOIN atp_amtp_messages m"
            " ON m.message_id = ? AND w.account_id = m.sender_account_id"
            " WHERE (w.agent_id IS NULL OR w.agent_id = m.sender_agent_id)"
            " AND w.position < m.position AND w.removed_at IS NULL ORDER BY w.position",
            (message_id,),
        )
        return [str(r[0]) for r in rows]

    async def owes_notices(self, message_id: str) -> bool:
        """Whether the AMTP message may still owe a webhook a notice."""
        rows = await self._rows(
            "SELECT 1 FROM atp_amtp_notices_owed WHERE message_id = ?", (message_id,)
        )
        return bool(rows)

    async def owed_notices(self, limit: int = 1000) -> list[str]:
        """AMTP messages that may still owe a webhook a notice (the sweep has the
        notifier follow them)."""
        rows = await self._rows("SELECT message_id FROM atp_amtp_notices_owed LIMIT ?", (limit,))
        return [str(r[0]) for r in rows]
