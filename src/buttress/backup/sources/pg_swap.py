"""A ``--force`` restore over a PostgreSQL database that never drops the live data first: the
backup is restored into a new database beside it, and only once that has fully succeeded is
the new one swapped in by renaming, in one transaction (``ALTER DATABASE ... RENAME`` twice),
after which the previous copy is dropped.

The new database is made like the target: encoding, collation, ctype and locale provider,
tablespace (``TEMPLATE template0``); and in the swap transaction it takes the target's owner,
connection limit, comment, grants (``datacl``) and settings (``ALTER DATABASE/ROLE ... SET``).
Renaming needs no session connected to the target: with one, the restore is refused before
anything is read, and a session that connects meanwhile makes the swap fail, the target
untouched.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from buttress._pgerror import one_line
from buttress.backup.errors import RestoreError
from buttress.secrets import redact

__all__ = ["LIST_SETTINGS", "Properties", "busy_sessions", "create_like", "properties", "swap"]

Properties = dict[str, Any]

# settings whose value is a list (pg_dump quotes each element on its own, as we do)
LIST_SETTINGS = frozenset(
    {
        "search_path",
        "temp_tablespaces",
        "session_preload_libraries",
        "shared_preload_libraries",
        "local_preload_libraries",
        "unix_socket_directories",
    }
)


def busy_sessions(conn: Any, name: str, grace: float = 5.0) -> int:
    """Client sessions connected to database ``name``, once those just closing are gone (a
    closed connection's backend lingers a moment; PostgreSQL's own rename waits as long, up to
    ``grace`` seconds). Autovacuum is no obstacle: PostgreSQL stops its workers for a rename."""
    deadline = time.monotonic() + grace
    while True:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s "
            "AND pid <> pg_backend_pid() AND backend_type = 'client backend'",
            [name],
        ).fetchone()
        if not row[0] or time.monotonic() > deadline:
            return int(row[0])
        time.sleep(0.1)


def properties(conn: Any, name: str) -> Properties:
    """What makes database ``name`` itself (not its contents), as the swap carries it over."""
    row = conn.execute(
        "SELECT to_jsonb(d), pg_get_userbyid(d.datdba), pg_encoding_to_char(d.encoding), "
        "t.spcname, shobj_description(d.oid, 'pg_database'), current_user "
        "FROM pg_database d JOIN pg_tablespace t ON t.oid = d.dattablespace WHERE d.datname = %s",
        [name],
    ).fetchone()
    if row is None:
        raise RestoreError(f"database {name!r} does not exist", target_state="untouched")
    info, owner, encoding, tablespace, comment, me = row
    grants = conn.execute(
        "SELECT CASE WHEN a.grantee = 0 THEN NULL ELSE pg_get_userbyid(a.grantee) END, "
        "a.privilege_type, a.is_grantable "
        "FROM pg_database d, aclexplode(d.datacl) a WHERE d.datname = %s",
        [name],
    ).fetchall()
    settings = conn.execute(
        "SELECT CASE WHEN s.setrole = 0 THEN NULL ELSE pg_get_userbyid(s.setrole) END, "
        "unnest(s.setconfig) FROM pg_db_role_setting s JOIN pg_database d "
        "ON d.oid = s.setdatabase WHERE d.datname = %s",
        [name],
    ).fetchall()
    return {
        "owner": owner,
        "me": me,
        "encoding": encoding,
        "collate": info.get("datcollate"),
        "ctype": info.get("datctype"),
        "provider": info.get("datlocprovider"),
        "icu_locale": info.get("daticulocale") or info.get("datlocale"),
        "tablespace": tablespace,
        "connlimit": info.get("datconnlimit", -1),
        "comment": comment,
        "acl": None if info.get("datacl") is None else [tuple(g) for g in grants],
        "settings": [tuple(s) for s in settings],
    }


def new_name(name: str, what: str) -> str:
    """A free-looking name beside ``name`` (at most 63 bytes)."""
    return f"{name.encode()[:40].decode(errors='ignore')}_bt_{what}_{secrets.token_hex(4)}"


def create_like(conn: Any, new: str, props: Properties) -> None:
    """Create database ``new`` with the target's encoding, locale and tablespace."""
    from psycopg import sql

    parts = [sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(new))]
    parts.append(sql.SQL("ENCODING {}").format(sql.Literal(props["encoding"])))
    if props["collate"]:
        parts.append(sql.SQL("LC_COLLATE {}").format(sql.Literal(props["collate"])))
    if props["ctype"]:
        parts.append(sql.SQL("LC_CTYPE {}").format(sql.Literal(props["ctype"])))
    if props["provider"] == "i" and props["icu_locale"]:
        parts.append(
            sql.SQL("LOCALE_PROVIDER icu ICU_LOCALE {}").format(sql.Literal(props["icu_locale"]))
        )
    if props["tablespace"] and props["tablespace"] != "pg_default":
        parts.append(sql.SQL("TABLESPACE {}").format(sql.Identifier(props["tablespace"])))
    conn.execute(sql.SQL(" ").join(parts))


def _split_list(value: str) -> list[str]:
    """A stored list setting (``"$user", public``) as its elements (``$user``, ``public``)."""
    items, current, quoted, i = [], "", False, 0
    while i < len(value):
        ch = value[i]
        if ch == '"':
            if quoted and value[i + 1 : i + 2] == '"':
                current += '"'
                i += 1
            else:
                quoted = not quoted
        elif ch == "," and not quoted:
            items.append(current.strip())
            current = ""
        else:
            current += ch
        i += 1
    items.append(current.strip())
    return [item for item in items if item]


def _set(item: str) -> Any:
    from psycopg import sql

    name, _, value = item.partition("=")
    values = _split_list(value) if name.lower() in LIST_SETTINGS else [value]
    return sql.SQL("SET {} TO {}").format(
        sql.SQL(".").join(sql.Identifier(part) for part in name.split(".")),
        sql.SQL(", ").join(sql.Literal(v) for v in values),
    )


def _carry_over(conn: Any, name: str, props: Properties) -> None:
    """Give database ``name`` (the restored copy, renamed) the previous one's properties."""
    from psycopg import sql

    db = sql.Identifier(name)
    if props["owner"] != props["me"]:
        conn.execute(
            sql.SQL("ALTER DATABASE {} OWNER TO {}").format(db, sql.Identifier(props["owner"]))
        )
    if props["connlimit"] not in (None, -1):
        conn.execute(
            sql.SQL("ALTER DATABASE {} CONNECTION LIMIT {}").format(
                db, sql.Literal(int(props["connlimit"]))
            )
        )
    if props["comment"] is not None:
        conn.execute(
            sql.SQL("COMMENT ON DATABASE {} IS {}").format(db, sql.Literal(props["comment"]))
        )
    if props["acl"] is not None:  # NULL: the defaults, as the new one has
        conn.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(db))
        for grantee, privilege, grantable in props["acl"]:
            conn.execute(
                sql.SQL("GRANT {} ON DATABASE {} TO {}{}").format(
                    sql.SQL(privilege),  # CONNECT, CREATE or TEMPORARY, from aclexplode
                    db,
                    sql.SQL("PUBLIC") if grantee is None else sql.Identifier(grantee),
                    sql.SQL(" WITH GRANT OPTION" if grantable else ""),
                )
            )
    for role, item in props["settings"]:
        target = (
            sql.SQL("DATABASE {}").format(db)
            if role is None
            else sql.SQL("ROLE {} IN DATABASE {}").format(sql.Identifier(role), db)
        )
        conn.execute(sql.SQL("ALTER {} {}").format(target, _set(item)))


def swap(conn: Any, name: str, new: str, props: Properties) -> str:
    """Rename ``name`` away and ``new`` to ``name``, carrying the properties over, in one
    transaction; returns the previous copy's new name (for the caller to drop).

    Raises:
        RestoreError: the swap failed (a session connected meanwhile...): nothing changed.
    """
    import psycopg
    from psycopg import sql

    old = new_name(name, "old")
    try:
        with conn.transaction():
            conn.execute(
                sql.SQL("ALTER DATABASE {} RENAME TO {}").format(
                    sql.Identifier(name), sql.Identifier(old)
                )
            )
            conn.execute(
                sql.SQL("ALTER DATABASE {} RENAME TO {}").format(
                    sql.Identifier(new), sql.Identifier(name)
                )
            )
            _carry_over(conn, name, props)
    except psycopg.Error as exc:
        raise RestoreError(
            f"swapping the restored copy in for database {name!r}: {redact(one_line(str(exc)))}",
            target_state="untouched",
        ) from None
    return old
