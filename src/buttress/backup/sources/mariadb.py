"""MariaDB/MySQL: ``mariadb-dump --single-transaction --routines --triggers --events``, with
exact row counts from the same moment as the dump.

MariaDB cannot share a snapshot between sessions, so the moment is made: a global read lock
(``FLUSH TABLES WITH READ LOCK``) is held only while two snapshots open, the one the counts are
read in and the dump's own; then it is released. Writes wait for that long (0.1-0.3 s; at
most ``lock_timeout``, after which the backup fails rather than stall the application), and
only InnoDB tables are consistent (as with any ``--single-transaction`` dump). Set
``consistent_counts: false`` to skip the lock (needs no RELOAD privilege; the counts are then
read just before the dump and may differ under writes).

The password reaches the tools through a temporary option file (mode 0600), never argv.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlsplit

from buttress.backup.errors import BackupError, RestoreError
from buttress.backup.sources.base import (
    ReadArtifact,
    Source,
    Tool,
    compare_metadata,
    count_kinds,
    feed,
    run_tool,
)
from buttress.platform.dsn import DsnError, MariadbParams, parse_mariadb_dsn
from buttress.secrets import mask_url, redact

__all__ = ["MariadbSource", "parse_dsn"]

_TABLES = (
    "SELECT table_name FROM information_schema.tables WHERE table_schema = %s "
    "AND table_type = 'BASE TABLE' ORDER BY table_name"
)
_SCHEMA = (
    (
        "SELECT table_name, column_name, ordinal_position, column_type, is_nullable, "
        "coalesce(column_default, ''), extra FROM information_schema.columns "
        "WHERE table_schema = %s ORDER BY 1, 3"
    ),
    (
        "SELECT table_name, index_name, seq_in_index, column_name, non_unique "
        "FROM information_schema.statistics WHERE table_schema = %s ORDER BY 1, 2, 3"
    ),
    (
        "SELECT routine_type, routine_name FROM information_schema.routines "
        "WHERE routine_schema = %s ORDER BY 1, 2"
    ),
    (
        "SELECT trigger_name, event_object_table FROM information_schema.triggers "
        "WHERE trigger_schema = %s ORDER BY 1"
    ),
    ("SELECT event_name FROM information_schema.events WHERE event_schema = %s ORDER BY 1"),
)


# what makes a database not empty: anything a restore could clash with or overwrite
_CONTENTS = (
    "SELECT CASE table_type WHEN 'VIEW' THEN 'view' WHEN 'SEQUENCE' THEN 'sequence' "
    "ELSE 'table' END FROM information_schema.tables WHERE table_schema = %(db)s "
    "UNION ALL SELECT lower(routine_type) FROM information_schema.routines "
    "WHERE routine_schema = %(db)s "
    "UNION ALL SELECT 'event' FROM information_schema.events WHERE event_schema = %(db)s"
)


def parse_dsn(dsn: str) -> MariadbParams:
    """``mariadb://user:password@host:port/database`` (or ``mysql://``) as connection keywords
    (the one reader, :func:`buttress.platform.dsn.parse_mariadb_dsn`, as a backup error)."""
    try:
        return parse_mariadb_dsn(dsn)
    except DsnError as exc:
        raise BackupError(str(exc)) from None


def _quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


class MariadbSource(Source):
    """One MariaDB/MySQL database.

    Args:
        dsn: ``mariadb://user:password@host:port/database``.
        consistent_counts: hold a global read lock while the snapshots open (see module doc).
        lock_timeout: seconds to wait for the lock and for the dump's snapshot.
        connect_timeout: seconds.
    """

    kind = "mariadb"
    dsn: str
    has_databases = True

    def __init__(
        self,
        dsn: str,
        *,
        consistent_counts: bool = True,
        lock_timeout: float = 10.0,
        connect_timeout: float = 10.0,
    ) -> None:
        self.dsn = dsn
        self.params = parse_dsn(dsn)
        self.consistent_counts = consistent_counts
        self.lock_timeout = lock_timeout
        self.connect_timeout = connect_timeout
        self._snapshot: Any = None
        self._meta: dict[str, Any] = {}
        self._binlog: dict[str, Any] | None = None  # the binlog position under the lock
        self._started = False

    def describe(self) -> str:
        return f"mariadb {mask_url(self.dsn)}"

    def location(self) -> dict[str, Any]:
        p = self.params
        return {"host": p["host"], "port": p["port"], "database": p["database"], "user": p["user"]}

    @property
    def artifacts(self) -> list[str]:
        return ["dump"]

    def _connect(self, database: str | None = None, **overrides: Any) -> Any:
        try:
            import pymysql
        except ImportError:
            raise BackupError(
                "mariadb sources need PyMySQL (pip install 'buttress[mariadb]')"
            ) from None
        p = {**self.params, **overrides}
        try:
            return pymysql.connect(
                host=p["host"],
                port=int(p["port"]),
                user=p["user"],
                password=p["password"],
                database=database,
                connect_timeout=max(1, int(self.connect_timeout)),
                autocommit=True,
                charset="utf8mb4",
            )
        except pymysql.Error as exc:
            where = f"{p['user']}@{p['host']}:{p['port']}"
            raise BackupError(f"mariadb {where}: {redact(_message(exc))}") from None

    def check(self) -> dict[str, Any]:
        conn = self._connect()
        with conn.cursor() as cur:
            cur.execute("SELECT VERSION()")
            server = str(cur.fetchone()[0])
            cur.execute(
                "SELECT 1 FROM information_schema.schemata WHERE schema_name = %s",
                [self.params["database"]],
            )
            found = cur.fetchone()
        conn.close()
        if not found:
            raise BackupError(f"{self.describe()}: database {self.params['database']!r} not found")
        client = run_tool("mariadb-dump", [_dump_tool(), "--version"], None, "dump --version")
        return {"server_version": server, "client_version": client.strip()}

    # -- dump ----------------------------------------------------------------------------------

    @contextlib.contextmanager
    def dump(self, artifact: str) -> Iterator[BinaryIO]:
        with _option_file(self.params) as options:
            args = [
                _dump_tool(),
                f"--defaults-extra-file={options}",
                f"--host={self.params['host']}",
                f"--port={self.params['port']}",
                f"--user={self.params['user']}",
                "--single-transaction",
                "--routines",
                "--triggers",
                "--events",
                "--hex-blob",
                "--quick",
                "--default-character-set=utf8mb4",
                self.params["database"],
            ]
            tool = self._open_snapshot_with(args)["tool"]
            try:
                with tool.output(f"{self.describe()} (dump)") as stream:
                    yield stream
            except BaseException:
                self._close_snapshot()
                raise

    def _open_snapshot_with(self, args: list[str]) -> dict[str, Any]:
        """Start the dump so that its snapshot and ours see the same data."""
        import pymysql

        counts = self._connect(self.params["database"])
        lock = self._connect() if self.consistent_counts else None
        try:
            if lock is not None:
                with lock.cursor() as cur:
                    cur.execute(f"SET SESSION lock_wait_timeout = {max(1, int(self.lock_timeout))}")
                    cur.execute("FLUSH TABLES WITH READ LOCK")
                    cur.execute("SELECT CONNECTION_ID()")
                    before = int(cur.fetchone()[0])
                    self._binlog = _binlog_position(cur)
            with counts.cursor() as cur:
                cur.execute("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                cur.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT")
            tool = Tool("mariadb-dump", args, None, stdin=False)
            if lock is not None:
                self._wait_for_dump_snapshot(lock, tool, before)
        except BaseException as exc:
            counts.close()
            if isinstance(exc, pymysql.Error):
                raise BackupError(f"{self.describe()}: {redact(_message(exc))}") from None
            raise
        finally:
            if lock is not None:
                lock.close()  # releases the global read lock
        self._snapshot = counts
        return {"tool": tool}

    def _wait_for_dump_snapshot(self, lock: Any, tool: Tool, before: int) -> None:
        """Until the dump's transaction is open (a connection newer than ours holding an InnoDB
        transaction) or the dump has ended; connection ids only grow."""
        deadline = time.monotonic() + self.lock_timeout
        with lock.cursor() as cur:
            while True:
                cur.execute(
                    "SELECT count(*) FROM information_schema.innodb_trx t "
                    "JOIN information_schema.processlist p ON p.id = t.trx_mysql_thread_id "
                    "WHERE p.id > %s AND p.user = %s AND p.id <> CONNECTION_ID()",
                    [before, self.params["user"]],
                )
                if cur.fetchone()[0] or tool.proc.poll() is not None:
                    return
                if time.monotonic() > deadline:
                    tool.kill()
                    raise BackupError(
                        f"{self.describe()}: mariadb-dump did not open its snapshot within "
                        f"{self.lock_timeout:g}s (writes were held meanwhile; released)"
                    )
                # information_schema.innodb_trx is a cache InnoDB refreshes only when it was
                # not read for 100 ms: polling faster would keep reading the same stale rows
                time.sleep(0.11)

    def _close_snapshot(self) -> None:
        if self._snapshot is not None:
            with contextlib.suppress(Exception):
                self._snapshot.close()
            self._snapshot = None

    def metadata(self) -> dict[str, Any]:
        if self._snapshot is None:
            return self._meta
        try:
            self._meta = _facts(self._snapshot, self.params["database"])
        finally:
            self._close_snapshot()
        if self._binlog is not None:
            self._meta["binlog"] = self._binlog
        return self._meta

    def compare(self, recorded: dict[str, Any], actual: dict[str, Any]) -> list[str]:
        """The recorded binlog position is the server's, not a fact a restored copy has."""
        return compare_metadata({k: v for k, v in recorded.items() if k != "binlog"}, actual)

    def close(self) -> None:
        self._close_snapshot()

    # -- restore -------------------------------------------------------------------------------

    def _dsn_for(self, database: str) -> str:
        p = urlsplit(self.dsn)
        return p._replace(path=f"/{database}").geturl()

    @contextlib.contextmanager
    def scratch(self) -> Iterator[str]:
        name = f"buttress_restore_{secrets.token_hex(4)}"
        conn = self._connect()
        with conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE {_quote(name)}")
        try:
            yield self._dsn_for(name)
        finally:
            with conn.cursor() as cur:
                cur.execute(f"DROP DATABASE IF EXISTS {_quote(name)}")
            conn.close()

    def database_dsn(self, name: str) -> str:
        """The DSN of database ``name`` on the source's server."""
        return self._dsn_for(name)

    def create_database(self, name: str, *, new: bool = False) -> str:
        """Create database ``name`` on the source's server (for ``restore --database``); with
        ``new``, one that exists already is an error (it is not ours to remove)."""
        import pymysql

        conn = self._connect()
        try:
            with conn.cursor() as cur:
                cur.execute(f"CREATE DATABASE {'' if new else 'IF NOT EXISTS '}{_quote(name)}")
        except pymysql.Error as exc:
            raise RestoreError(f"cannot create database {name!r}: {_message(exc)}") from None
        finally:
            conn.close()
        return self._dsn_for(name)

    def contents(self, to: str) -> list[str] | None:
        """What database ``to`` holds, counted by kind (tables, views, sequences, procedures,
        functions, events); None when it does not exist."""
        params = parse_dsn(to)
        conn = self._connect(**_overrides(params))
        try:
            with conn.cursor() as cur:
                cur.execute(
                    "SELECT count(*) FROM information_schema.schemata WHERE schema_name = %s",
                    [params["database"]],
                )
                if not cur.fetchone()[0]:
                    return None
                cur.execute(_CONTENTS, {"db": params["database"]})
                return count_kinds([str(k) for (k,) in cur.fetchall()])
        finally:
            conn.close()

    def remove(self, to: str) -> None:
        """Drop database ``to`` (one a failed restore created)."""
        params = parse_dsn(to)
        conn = self._connect(**_overrides(params))
        try:
            with conn.cursor() as cur:
                cur.execute(f"DROP DATABASE IF EXISTS {_quote(params['database'])}")
        finally:
            conn.close()

    def restore(
        self, read: ReadArtifact, to: str, *, force: bool = False, tables: list[str] | None = None
    ) -> str:
        params = parse_dsn(to)
        database = params["database"]
        found = self.contents(to)
        conn = self._connect(**_overrides(params))
        with conn.cursor() as cur:
            if found is None:
                cur.execute(f"CREATE DATABASE {_quote(database)}")
            cur.execute(_TABLES, [database])
            existing = [str(r[0]) for r in cur.fetchall()]
        conn.close()
        if tables:
            return self._restore_tables(read, to, params, existing, tables, force)
        if found and not force:
            raise RestoreError(
                f"mariadb {mask_url(to)} is not empty ({', '.join(found)}); restore into a "
                "new database, or pass --force to restore over it"
            )
        if found:
            swapped = self._restore_beside(read, to, params)
            if swapped is not None:
                return swapped
        self._load(read, params, to)
        return f"mariadb {mask_url(to)}"

    def _restore_beside(self, read: ReadArtifact, to: str, params: MariadbParams) -> str | None:
        """``--force`` over a database: load the dump into a new one beside it, then swap the
        tables in (:mod:`~buttress.backup.sources.mariadb_swap`); None when the swap cannot be
        done (views, routines, events, triggers or sequences on either side): in place then."""
        import pymysql

        from buttress.backup.sources import mariadb_swap as swap

        database, where = params["database"], f"mariadb {mask_url(to)}"
        conn = self._connect(**_overrides(params))
        try:
            with conn.cursor() as cur:
                if swap.obstacles(cur, database):
                    return None
                new = swap.new_name(database, "new")
                swap.create_like(cur, new, database)
            try:
                self._load(read, {**params, "database": new}, to)
                with conn.cursor() as cur:
                    if swap.obstacles(cur, new):  # the backup holds them: in place after all
                        cur.execute(f"DROP DATABASE {_quote(new)}")
                        return None
                    old = swap.swap_tables(cur, database, new)
            except BaseException as exc:
                with contextlib.suppress(pymysql.Error), conn.cursor() as cur:
                    cur.execute(f"DROP DATABASE IF EXISTS {_quote(new)}")
                if isinstance(exc, pymysql.Error):
                    exc = BackupError(f"{where}: {redact(_message(exc))}")
                if isinstance(exc, BackupError):
                    raise RestoreError(
                        str(exc),
                        target_state="untouched (the restore went into a new database beside "
                        "it, now dropped)",
                    ) from None
                raise
            try:
                with conn.cursor() as cur:
                    cur.execute(f"DROP DATABASE {_quote(new)}")
                    cur.execute(f"DROP DATABASE {_quote(old)}")
            except pymysql.Error as exc:
                return (
                    f"{where} (its tables swapped in; the previous ones are kept in database "
                    f"{old!r}, which could not be dropped: {redact(_message(exc))})"
                )
        finally:
            conn.close()
        return f"{where} (loaded beside it, then its tables swapped in; the previous ones dropped)"

    def _load(self, read: ReadArtifact, params: MariadbParams, to: str) -> None:
        with _option_file(params) as options:
            args = [
                _client_tool(),
                f"--defaults-extra-file={options}",
                f"--host={params['host']}",
                f"--port={params['port']}",
                f"--user={params['user']}",
                "--default-character-set=utf8mb4",
                "--binary-mode",
                params["database"],
            ]
            feed(
                Tool("mariadb", args, None, stdin=True),
                read,
                "dump",
                f"restore into {mask_url(to)}",
            )

    def _restore_tables(
        self,
        read: ReadArtifact,
        to: str,
        params: MariadbParams,
        existing: list[str],
        tables: list[str],
        force: bool,
    ) -> str:
        """Table-level restore: the whole dump goes to a scratch database on the target's
        server, then the chosen tables are moved over (RENAME TABLE: no second copy)."""
        wanted = [t.split(".")[-1] for t in tables]
        clash = sorted(set(wanted) & set(existing))
        if clash and not force:
            raise RestoreError(
                f"mariadb {mask_url(to)} already has {', '.join(clash)}; pass --force to replace"
            )
        scratch = f"buttress_restore_{secrets.token_hex(4)}"
        conn = self._connect(**_overrides(params))
        try:
            with conn.cursor() as cur:
                cur.execute(f"CREATE DATABASE {_quote(scratch)}")
            self._load(read, {**params, "database": scratch}, to)
            with conn.cursor() as cur:
                cur.execute(_TABLES, [scratch])
                present = {str(r[0]) for r in cur.fetchall()}
                missing = [t for t in wanted if t not in present]
                if missing:
                    raise RestoreError(
                        f"the backup has no table {', '.join(missing)} "
                        f"(it has: {', '.join(sorted(present)) or 'none'})"
                    )
                for table in wanted:
                    if table in existing:
                        cur.execute(f"DROP TABLE {_quote(params['database'])}.{_quote(table)}")
                    cur.execute(
                        f"RENAME TABLE {_quote(scratch)}.{_quote(table)} "
                        f"TO {_quote(params['database'])}.{_quote(table)}"
                    )
        finally:
            with conn.cursor() as cur:
                cur.execute(f"DROP DATABASE IF EXISTS {_quote(scratch)}")
            conn.close()
        return f"mariadb {mask_url(to)} (tables {', '.join(wanted)})"

    def inspect(self, where: str, tables: list[str] | None = None) -> dict[str, Any]:
        params = parse_dsn(where)
        conn = self._connect(params["database"], **_overrides(params))
        try:
            return _facts(conn, params["database"], tables)
        finally:
            conn.close()


def _overrides(params: MariadbParams) -> dict[str, Any]:
    return {k: params[k] for k in ("host", "port", "user", "password")}


def _facts(conn: Any, database: str, tables: list[str] | None = None) -> dict[str, Any]:
    counts: dict[str, int] = {}
    with conn.cursor() as cur:
        cur.execute(_TABLES, [database])
        for (table,) in cur.fetchall():
            if tables and table not in tables:
                continue
            cur.execute(f"SELECT count(*) FROM {_quote(database)}.{_quote(str(table))}")  # noqa: S608  # quoted identifiers
            counts[str(table)] = int(cur.fetchone()[0])
        facts: dict[str, Any] = {"row_counts": counts}
        if not tables:
            fingerprint = hashlib.sha256()
            for query in _SCHEMA:
                cur.execute(query, [database])
                for row in cur.fetchall():
                    fingerprint.update(repr(tuple(str(v) for v in row)).encode())
            facts["schema_fingerprint"] = fingerprint.hexdigest()
    return facts


def _binlog_position(cur: Any) -> dict[str, Any] | None:
    """Where the server's binary log is (``{"file", "position", "gtid", "time"}``), read while
    the global read lock holds every write: the point the dump's snapshot sees, from which a
    point-in-time restore replays the binlogs. None without binary logging (or without the
    privilege to read it)."""
    import pymysql

    try:
        cur.execute("SHOW MASTER STATUS")
        row = cur.fetchone()
        if not row:
            return None
        file, position = str(row[0]), int(row[1])
        gtid = ""
        with contextlib.suppress(pymysql.Error):  # MySQL has no gtid_binlog_pos
            cur.execute("SELECT @@GLOBAL.gtid_binlog_pos")
            gtid = str(cur.fetchone()[0] or "")
        cur.execute("SELECT UNIX_TIMESTAMP(NOW(6))")
        at = float(cur.fetchone()[0])
    except pymysql.Error:
        return None
    return {"file": file, "position": position, "gtid": gtid, "time": at}


def _message(exc: BaseException) -> str:
    args: tuple[Any, ...] = tuple(getattr(exc, "args", ()))
    if len(args) >= 2:
        return f"({args[0]}) {args[1]}"
    return str(exc)


def _dump_tool() -> str:
    import shutil

    return "mariadb-dump" if shutil.which("mariadb-dump") else "mysqldump"


def _client_tool() -> str:
    import shutil

    return "mariadb" if shutil.which("mariadb") else "mysql"


@contextlib.contextmanager
def _option_file(params: MariadbParams) -> Iterator[Path]:
    """A ``[client]`` option file carrying the password (mode 0600), removed afterwards."""
    fd, name = tempfile.mkstemp(prefix="buttress-my-", suffix=".cnf")
    try:
        with os.fdopen(fd, "w") as out:
            password = str(params["password"]).replace("\\", "\\\\").replace('"', '\\"')
            out.write(f'[client]\npassword="{password}"\n')
        yield Path(name)
    finally:
        Path(name).unlink(missing_ok=True)
