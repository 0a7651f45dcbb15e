"""The read side: Trio loops that fold the ledger's events into SQL views.

The send path ends here: ``ProjectionRunner`` folds each committed page into the
views' statements (``AgentsView``, ``MessagesView``, ``SessionsView``,
``ReplaysView``, ``ReceiptsView``, ``EnvelopesView``, ``SchemasView``,
``WebhooksView``) and writes them with its tracking position in one transaction;
``Queries`` answers reads from them.
"""

from atp.projections._agents import AgentsView
from atp.projections._amtp_queries import STATUS_FILTERS as AMTP_STATUS_FILTERS
from atp.projections._amtp_queries import DirectoryRow, SchemaRow, WebhookRow
from atp.projections._amtp_webhooks import WebhooksView
from atp.projections._envelopes import EnvelopesView
from atp.projections._liveness import LivenessStore
from atp.projections._messages import DeadLetterStatistics, MessageLoader, MessagesView
from atp.projections._queries import AgentRow, KeyOwner, MessageRow, Queries, SessionRow
from atp.projections._rebuild import dump_views, rebuild
from atp.projections._receipts import ReceiptsView
from atp.projections._replays import ReplaysView
from atp.projections._runner import ProjectionRunner, ProjectionStatistics
from atp.projections._schemas import SchemasView
from atp.projections._sessions import SessionsView
from atp.projections._store import (
    Cursor,
    ViewStore,
    apply_migrations,
    migration_files,
    open_view_store,
    pending_migrations,
)
from atp.projections._view import Statements, View, Writer, event_classes

__all__ = [
    "AMTP_STATUS_FILTERS",
    "AgentRow",
    "AgentsView",
    "Cursor",
    "DeadLetterStatistics",
    "DirectoryRow",
    "EnvelopesView",
    "KeyOwner",
    "LivenessStore",
    "MessageLoader",
    "MessageRow",
    "MessagesView",
    "ProjectionRunner",
    "ProjectionStatistics",
    "Queries",
    "ReceiptsView",
    "ReplaysView",
    "SchemaRow",
    "SchemasView",
    "SessionRow",
    "SessionsView",
    "Statements",
    "View",
    "ViewStore",
    "WebhookRow",
    "WebhooksView",
    "Writer",
    "apply_migrations",
    "dump_views",
    "event_classes",
    "migration_files",
    "open_view_store",
    "pending_migrations",
    "rebuild",
]
