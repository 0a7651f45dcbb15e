"""The read side: Trio loops that fold the ledger's events into SQL views.

The send path ends here: ``ProjectionRunner`` folds each committed page into the
views' statements (``AgentsView``, ``MessagesView``, ``SessionsView``) and writes them
with its tracking position in one transaction; ``Queries`` answers reads from them.
"""

from projections._agents import AgentsView
from projections._messages import MessageLoader, MessagesView
from projections._queries import AgentRow, KeyOwner, MessageRow, Queries, SessionRow
from projections._rebuild import dump_views, rebuild
from projections._runner import ProjectionRunner, ProjectionStatistics
from projections._sessions import SessionsView
from projections._store import (
    MIGRATIONS_DIR,
    Cursor,
    ViewStore,
    apply_migrations,
    open_view_store,
)
from projections._view import Statements, View, Writer

__all__ = [
    "MIGRATIONS_DIR",
    "AgentRow",
    "AgentsView",
    "Cursor",
    "KeyOwner",
    "MessageLoader",
    "MessageRow",
    "MessagesView",
    "ProjectionRunner",
    "ProjectionStatistics",
    "Queries",
    "SessionRow",
    "SessionsView",
    "Statements",
    "View",
    "ViewStore",
    "Writer",
    "apply_migrations",
    "dump_views",
    "open_view_store",
    "rebuild",
]
