"""A view store's write: a page's statements and its tracking commit together or not at all."""

from __future__ import annotations

import logging

import pytest

from atp.projections import apply_migrations, open_view_store
from atp.settings import Settings

TRACK = (
    "INSERT INTO atp_tracking (view, position) VALUES (?, ?) "
    "ON CONFLICT (view) DO UPDATE SET position = excluded.position"
)


def test_a_failed_write_keeps_nothing_and_the_store_goes_on(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    store = open_view_store(settings)
    try:
        apply_migrations(store)  # SQLite is migrated at start, PostgreSQL by the fixture
        store.write([(TRACK, ("t", 1))])
        with pytest.raises(Exception, match=r"(?i)no such table|does not exist"):
            store.write([(TRACK, ("t", 2)), ("INSERT INTO atp_no_such_table VALUES (?)", (1,))])
        assert store.query("SELECT position FROM atp_tracking WHERE view = ?", ("t",)) == [(1,)]
        store.write([(TRACK, ("t", 3))])  # the connection that failed is usable again
        assert store.query("SELECT position FROM atp_tracking WHERE view = ?", ("t",)) == [(3,)]
    finally:
        store.close()
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
