"""A failed PostgreSQL backup lets go of its snapshot at once: closing the source ends the
exported snapshot's session and cancels the row counting that imported it, even when that
counting is stuck (issue 15, item 11)."""

from __future__ import annotations

import threading
from urllib.parse import urlsplit

import psycopg

from buttress.backup.sources.postgresql import PostgresSource
from tests.conftest import PG_ADMIN_DSN, wait_until


def _sessions(database: str, other: int) -> list[tuple[str, str]]:
    """(state, wait event type) of each client session in ``database`` but ``other``'s."""
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT state, coalesce(wait_event_type, '') FROM pg_stat_activity "
            "WHERE datname = %s AND pid NOT IN (pg_backend_pid(), %s) "
            "AND backend_type = 'client backend'",
            [database, other],
        ).fetchall()
    return [(str(s), str(w)) for s, w in rows]


def test_closing_a_failed_backup_cancels_the_counting_and_ends_the_snapshot(
    pg_database: str,
) -> None:
    """The counting is blocked on a lock another session holds; close() (what the engine
    calls when a run fails) returns while that lock is still held, and no session of the
    backup is left in the database."""
    database = urlsplit(pg_database).path.strip("/")
    with psycopg.connect(pg_database, autocommit=True) as conn:
        conn.execute("CREATE TABLE t AS SELECT g AS id FROM generate_series(1, 100) g")
    locker = psycopg.connect(pg_database)
    other = locker.info.backend_pid
    try:
        locker.execute("LOCK TABLE t IN ACCESS EXCLUSIVE MODE")  # the counting waits on it
        source = PostgresSource(pg_database, globals=False)
        source.check()  # exports the snapshot; the counting starts in its own session
        wait_until(
            lambda: ("active", "Lock") in _sessions(database, other), "the counting to block", 30
        )
        assert ("idle in transaction", "Client") in _sessions(database, other)  # the snapshot
        closing = threading.Thread(target=source.close)
        closing.start()
        closing.join(timeout=60)  # generous: it takes milliseconds; before, forever
        assert not closing.is_alive(), "close() waited for the stuck counting"
        wait_until(lambda: _sessions(database, other) == [], "the backup's sessions to end", 30)
    finally:
        locker.close()
