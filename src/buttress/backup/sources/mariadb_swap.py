"""A ``--force`` restore over a MariaDB database that never drops the live tables first: the dump
is loaded into a new database beside the target, and only once that has fully succeeded are the
tables swapped in one atomic ``RENAME TABLE`` (the target's tables to a third database, the new
ones into the target), after which the other two databases are dropped.

MariaDB has no database rename, and views, triggers, procedures, functions and events cannot
move between databases by renaming (nor, safely, sequences: a column default names its own), so
the swap is done only when neither the target nor the loaded copy holds any of those; otherwise
the restore goes in place (the dump's own ``DROP TABLE IF EXISTS`` per table), reading the
backup again when the copy was already loaded. Table grants name the table, so they apply to
the swapped-in tables as they did.
"""

from __future__ import annotations

import secrets
from typing import Any

__all__ = ["obstacles", "quote", "swap_tables"]

_OBSTACLES = (
    "SELECT 'view' FROM information_schema.views WHERE table_schema = %(db)s "
    "UNION ALL SELECT lower(routine_type) FROM information_schema.routines "
    "WHERE routine_schema = %(db)s "
    "UNION ALL SELECT 'event' FROM information_schema.events WHERE event_schema = %(db)s "
    "UNION ALL SELECT 'trigger' FROM information_schema.triggers WHERE trigger_schema = %(db)s "
    "UNION ALL SELECT 'sequence' FROM information_schema.tables WHERE table_schema = %(db)s "
    "AND table_type = 'SEQUENCE'"
)
_TABLES = (
    "SELECT table_name FROM information_schema.tables WHERE table_schema = %s "
    "AND table_type <> 'VIEW' ORDER BY table_name"
)


def quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def new_name(name: str, what: str) -> str:
    """A name beside ``name`` (at most 64 characters)."""
    return f"{name[:40]}_bt_{what}_{secrets.token_hex(4)}"


def obstacles(cur: Any, database: str) -> list[str]:
    """What in ``database`` cannot move by renaming tables (views, routines, events, triggers,
    sequences)."""
    cur.execute(_OBSTACLES, {"db": database})
    return sorted({str(k) for (k,) in cur.fetchall()})


def create_like(cur: Any, new: str, database: str) -> None:
    """Create database ``new`` with ``database``'s character set and collation."""
    cur.execute(
        "SELECT default_character_set_name, default_collation_name "
        "FROM information_schema.schemata WHERE schema_name = %s",
        [database],
    )
    charset, collation = cur.fetchone()
    cur.execute(f"CREATE DATABASE {quote(new)} CHARACTER SET {charset} COLLATE {collation}")


def swap_tables(cur: Any, database: str, new: str) -> str:
    """Move ``database``'s tables (and sequences) into a third database and ``new``'s into
    ``database``, in one atomic RENAME TABLE; returns the third database's name (for the caller
    to drop)."""
    old = new_name(database, "old")
    cur.execute(_TABLES, [database])
    current = [str(r[0]) for r in cur.fetchall()]
    cur.execute(_TABLES, [new])
    restored = [str(r[0]) for r in cur.fetchall()]
    cur.execute(f"CREATE DATABASE {quote(old)}")
    pairs = [f"{quote(database)}.{quote(t)} TO {quote(old)}.{quote(t)}" for t in current]
    pairs += [f"{quote(new)}.{quote(t)} TO {quote(database)}.{quote(t)}" for t in restored]
    try:
        if pairs:
            cur.execute("RENAME TABLE " + ", ".join(pairs))
    except BaseException:
        cur.execute(f"DROP DATABASE IF EXISTS {quote(old)}")  # empty: the rename is atomic
        raise
    return old
