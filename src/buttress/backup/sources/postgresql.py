"""PostgreSQL: ``pg_dump`` custom format (one consistent snapshot, shared with the row counts
the restore test compares) plus the roles and other globals (``pg_dumpall --globals-only``).

The password never reaches a command line: it goes to the tools through ``PGPASSWORD``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from buttress._pgerror import one_line
from buttress.backup.errors import BackupError, CorruptBackupError, RestoreError
from buttress.backup.sources.base import (
    ReadArtifact,
    Source,
    Tool,
    Unpacking,
    count_kinds,
    run_tool,
    tar_stream,
)
from buttress.backup.sources.pg_parallel import ParallelRestoreSink, RestoreSink
from buttress.secrets import mask_url, redact, redact_echo

__all__ = ["PostgresSource"]

_USER_TABLES = """
SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg_toast%' AND NOT c.relispartition
ORDER BY 1, 2
"""
_COLUMNS = """
SELECT table_schema, table_name, column_name, data_type, is_nullable, coalesce(column_default, '')
FROM information_schema.columns
WHERE table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2, 3
"""
_INDEXES = """
SELECT schemaname, tablename, indexname, indexdef FROM pg_indexes
WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2, 3
"""
_SEQUENCES = "SELECT schemaname, sequencename, last_value FROM pg_sequences ORDER BY 1, 2"
# what makes a database not empty: every user object a restore could clash with or overwrite
# (not extensions, nor what they bring: a new database holds what its template's extensions do)
_CONTENTS = """
WITH ns AS (
  SELECT oid, nspname FROM pg_namespace
  WHERE nspname NOT IN ('pg_catalog', 'information_schema') AND nspname !~ '^pg_(toast|temp_)'
), objects AS (
  SELECT 'pg_class'::regclass AS cls, c.oid,
         CASE c.relkind WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view'
              WHEN 'S' THEN 'sequence' WHEN 'f' THEN 'foreign table' WHEN 'c' THEN 'type'
              ELSE 'table' END AS kind
  FROM pg_class c JOIN ns ON ns.oid = c.relnamespace
  WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f', 'c') AND NOT c.relispartition
  UNION ALL
  SELECT 'pg_proc'::regclass, p.oid,
         CASE p.prokind WHEN 'p' THEN 'procedure' WHEN 'a' THEN 'aggregate' ELSE 'function' END
  FROM pg_proc p JOIN ns ON ns.oid = p.pronamespace
  UNION ALL
  SELECT 'pg_type'::regclass, t.oid, 'type'
  FROM pg_type t JOIN ns ON ns.oid = t.typnamespace WHERE t.typtype IN ('e', 'd', 'r')
  UNION ALL
  SELECT 'pg_namespace'::regclass, ns.oid, 'schema' FROM ns WHERE ns.nspname <> 'public'
)
SELECT kind FROM objects o WHERE NOT EXISTS (
  SELECT 1 FROM pg_depend d WHERE d.classid = o.cls AND d.objid = o.oid AND d.deptype = 'e'
)
"""


def _split(dsn: str) -> tuple[str, dict[str, str]]:
    """The DSN without its password, and the environment carrying it."""
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    try:
        params = conninfo_to_dict(dsn)
    except Exception as exc:  # noqa: BLE001  # psycopg's ProgrammingError; say where
        raise BackupError(
            f"postgresql dsn {mask_url(dsn)!r}: {redact_echo(str(exc), dsn)}"
        ) from None
    password = params.pop("password", None)
    env = dict(os.environ)
    if password is not None:
        env["PGPASSWORD"] = str(password)
    return make_conninfo(**{k: str(v) for k, v in params.items()}), env


def _refuse_if_busy(admin: Any, name: str, where: str) -> None:
    from buttress.backup.sources.pg_swap import busy_sessions

    busy = busy_sessions(admin, name)
    if busy:
        raise RestoreError(
            f"{where}: {busy} other session{'s are' if busy > 1 else ' is'} connected to "
            f"database {name!r}; a --force restore loads a new copy beside it and swaps it in by "
            "renaming, which needs none: stop them (pg_terminate_backend) and retry",
            target_state="untouched",
        )


class _SnapshotFacts:
    """The facts of the dump's snapshot, read by a thread in a session of its own."""

    def __init__(self, source: PostgresSource, snapshot: str) -> None:
        self.facts: dict[str, Any] = {}
        self.error: BaseException | None = None
        self.conn: Any = None
        self.thread = threading.Thread(
            target=self._run, args=(source, snapshot), name="buttress-pg-counts", daemon=True
        )
        self.thread.start()

    def _run(self, source: PostgresSource, snapshot: str) -> None:
        try:
            conn = self.conn = source._connect()
            try:
                conn.autocommit = False
                conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                conn.execute(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
                self.facts = source._facts(conn)
            finally:
                conn.close()
        except BaseException as exc:  # noqa: BLE001  # handed to the caller of result()
            self.error = exc

    def cancel(self) -> None:
        """Stop the counting now (a failed run): its transaction ends with it."""
        conn = self.conn
        if conn is not None and self.thread.is_alive():
            with contextlib.suppress(Exception):
                conn.cancel_safe(timeout=5)
        self.thread.join()

    def result(self) -> dict[str, Any]:
        self.thread.join()
        if self.error is not None:
            if isinstance(self.error, BackupError):
                raise self.error
            raise BackupError(f"counting rows: {redact(str(self.error))}") from None
        return self.facts


class _RestoreSink:
    """Where a restore writes the dump: pg_restore's stdin (custom format), or a folder the tar
    of a directory-format dump is unpacked into before ``pg_restore --jobs``."""

    def __init__(
        self, args: list[str], env: dict[str, str], jobs: int, tmp_dir: Path | None
    ) -> None:
        self.args, self.env = args, env
        self.jobs = max(2, jobs)
        self.tmp_dir = tmp_dir
        self.out: BinaryIO | None = None
        self.tool: Tool | None = None
        self.unpacking: Unpacking | None = None
        self.work: tempfile.TemporaryDirectory[str] | None = None

    def _open(self, head: bytes) -> BinaryIO:
        if head.startswith(b"PGDMP"):
            self.tool = Tool("pg_restore", self.args, self.env, stdin=True)
            return self.tool.stdin  # type: ignore[return-value]
        self.work = tempfile.TemporaryDirectory(prefix="buttress-pgrestore-", dir=self.tmp_dir)
        self.unpacking = Unpacking(Path(self.work.name))
        return self.unpacking.writer

    def write(self, data: bytes) -> int:
        if self.out is None:
            self.out = self._open(bytes(data[:5]))
        self.out.write(data)
        return len(data)

    def flush(self) -> None:
        return None

    def finish(self, what: str) -> None:
        if self.out is not None:
            with contextlib.suppress(BrokenPipeError):
                self.out.close()
        if self.tool is not None:
            self.tool.finish(what)
        elif self.unpacking is not None:
            folder = self.unpacking.finish()
            run_tool("pg_restore", [*self.args, f"--jobs={self.jobs}", str(folder)], self.env, what)

    def abort(self) -> None:
        if self.tool is not None:
            self.tool.kill()
        if self.unpacking is not None:
            with contextlib.suppress(BaseException):
                self.unpacking.finish()

    def cleanup(self) -> None:
        if self.work is not None:
            self.work.cleanup()


class PostgresSource(Source):
    """One PostgreSQL database.

    Args:
        dsn: ``postgresql://user:password@host:port/dbname``.
        globals: also back up roles and tablespaces (needs a superuser or ``pg_read_all_settings``).
        jobs: parallel pg_dump jobs (above 1: directory format, dumped to ``tmp_dir`` first).
        restore_jobs: pg_restore processes a restore runs at once (default: ``jobs``); above 1
            a streamed custom-format dump is restored in parallel
            (:mod:`~buttress.backup.sources.pg_parallel`).
        connect_timeout: seconds.
    """

    kind = "postgresql"
    dsn: str
    has_databases = True
    has_globals = True

    def __init__(
        self,
        dsn: str,
        *,
        globals: bool = True,
        jobs: int = 1,
        restore_jobs: int | None = None,
        tmp_dir: str | Path | None = None,
        connect_timeout: float = 10,
    ) -> None:
        if jobs < 1:
            raise ValueError("postgresql: jobs must be >= 1")
        if restore_jobs is not None and restore_jobs < 1:
            raise ValueError("postgresql: restore_jobs must be >= 1")
        self.dsn = dsn
        self.with_globals = globals
        self.jobs = jobs
        self.restore_jobs = restore_jobs or jobs
        self.tmp_dir = Path(tmp_dir) if tmp_dir else None
        self.connect_timeout = connect_timeout
        self._conn: Any = None
        self._snapshot = ""
        self._meta: dict[str, Any] = {}
        self._counting: _SnapshotFacts | None = None

    def describe(self) -> str:
        return f"postgresql {mask_url(self.dsn)}"

    def location(self) -> dict[str, Any]:
        from psycopg.conninfo import conninfo_to_dict

        try:
            params = conninfo_to_dict(self.dsn)
        except Exception:  # noqa: BLE001  # check() names the problem; nothing to record
            return {}
        port = str(params.get("port") or "5432")
        return {
            "host": str(params.get("host") or params.get("hostaddr") or "localhost"),
            "port": int(port) if port.isdigit() else port,  # "5432,5433" for several hosts
            "database": str(params.get("dbname") or params.get("user") or ""),
            "user": str(params["user"]) if params.get("user") else None,
        }

    def _connect(self, dsn: str | None = None) -> Any:
        import psycopg

        try:
            return psycopg.connect(
                dsn or self.dsn, connect_timeout=max(1, int(self.connect_timeout)), autocommit=True
            )
        except psycopg.Error as exc:
            where = dsn or self.dsn
            detail = redact_echo(one_line(str(exc)), where)
            raise BackupError(f"postgresql {mask_url(where)}: {detail}") from None

    @property
    def artifacts(self) -> list[str]:
        return ["dump", "globals"] if self.with_globals else ["dump"]

    def check(self) -> dict[str, Any]:
        conn = self._connect()
        server = conn.execute("SHOW server_version").fetchone()[0]
        client = run_tool("pg_dump", ["pg_dump", "--version"], None, "pg_dump --version").strip()
        client_major = int(client.split()[-1].split(".")[0])
        server_major = int(server.split(".")[0])
        if client_major < server_major:
            conn.close()
            raise BackupError(
                f"{self.describe()}: server is PostgreSQL {server} but {client} is older; "
                f"install pg_dump {server_major} or newer"
            )
        # one snapshot for the dump and for the counts recorded with it; the counts are read
        # in a second session that imports it, while the dump runs (exact, and off the clock)
        conn.autocommit = False
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        self._snapshot = conn.execute("SELECT pg_export_snapshot()").fetchone()[0]
        self._conn = conn
        self._counting = _SnapshotFacts(self, self._snapshot)
        return {"server_version": server, "client_version": client}

    def _facts(self, conn: Any, tables: list[str] | None = None) -> dict[str, Any]:
        from psycopg import sql

        counts: dict[str, int] = {}
        for schema, table in conn.execute(_USER_TABLES).fetchall():
            name = f"{schema}.{table}"
            if tables and name not in tables and table not in tables:
                continue
            count = sql.SQL("SELECT count(*) FROM {}.{}").format(
                sql.Identifier(schema), sql.Identifier(table)
            )
            counts[name] = conn.execute(count).fetchone()[0]
        facts: dict[str, Any] = {"row_counts": counts}
        if not tables:
            fingerprint = hashlib.sha256()
            for query in (_COLUMNS, _INDEXES):
                for row in conn.execute(query).fetchall():
                    fingerprint.update(repr(tuple(row)).encode())
            facts["schema_fingerprint"] = fingerprint.hexdigest()
            facts["sequences"] = {f"{s}.{n}": v for s, n, v in conn.execute(_SEQUENCES).fetchall()}
        return facts

    @contextlib.contextmanager
    def dump(self, artifact: str) -> Iterator[BinaryIO]:
        dsn, env = _split(self.dsn)
        if artifact == "dump" and self.jobs > 1:
            with self._directory_dump(dsn, env) as stream:
                yield stream
            return
        if artifact == "dump":
            args = ["pg_dump", "--format=custom", "--compress=0", "--no-password", "--dbname", dsn]
            if self._snapshot:
                args.insert(1, f"--snapshot={self._snapshot}")
            tool = Tool("pg_dump", args, env, stdin=False)
        else:
            tool = Tool(
                "pg_dumpall",
                ["pg_dumpall", "--globals-only", "--no-password", "--dbname", dsn],
                env,
                stdin=False,
            )
        with tool.output(f"{self.describe()} ({artifact})") as stream:
            yield stream

    @contextlib.contextmanager
    def _directory_dump(self, dsn: str, env: dict[str, str]) -> Iterator[BinaryIO]:
        """``pg_dump --format=directory --jobs=N`` into a temporary folder (it cannot stream),
        then streamed on as a tar of that folder."""
        with tempfile.TemporaryDirectory(prefix="buttress-pgdump-", dir=self.tmp_dir) as work:
            folder = Path(work) / "dump"
            args = [
                "pg_dump", "--format=directory", "--compress=0", f"--jobs={self.jobs}",
                "--no-password", "--file", str(folder), "--dbname", dsn,
            ]  # fmt: skip
            if self._snapshot:
                args.insert(1, f"--snapshot={self._snapshot}")
            run_tool("pg_dump", args, env, f"{self.describe()} (dump)")
            with tar_stream(folder) as stream:
                yield stream

    def metadata(self) -> dict[str, Any]:
        try:
            if self._counting is not None:
                self._meta = self._counting.result()
        finally:
            self._counting = None
            if self._conn is not None:
                self._conn.close()  # the snapshot is released only now
                self._conn = None
        return self._meta

    def close(self) -> None:
        # a failed run: the snapshot goes first (its session closes), then the counting that
        # imported it is cancelled rather than waited for; pg_dump was killed already
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._counting is not None:
            self._counting.cancel()
            self._counting = None

    # -- restore -------------------------------------------------------------------------------

    def _database_dsn(self, name: str) -> str:
        from psycopg.conninfo import conninfo_to_dict, make_conninfo

        params = conninfo_to_dict(self.dsn)
        params["dbname"] = name
        return make_conninfo(**{k: str(v) for k, v in params.items()})

    @contextlib.contextmanager
    def scratch(self) -> Iterator[str]:
        """A temporary database on the source's server, dropped afterwards."""
        from psycopg import sql

        name = f"buttress_restore_{secrets.token_hex(4)}"
        conn = self._connect()
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        try:
            yield self._database_dsn(name)
        finally:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
            conn.close()

    def database_dsn(self, name: str) -> str:
        """The DSN of database ``name`` on the source's server."""
        return self._database_dsn(name)

    def create_database(self, name: str, *, new: bool = False) -> str:
        """Create database ``name`` on the source's server (for ``restore --database``); with
        ``new``, one that exists already is an error (it is not ours to remove)."""
        import psycopg
        from psycopg import sql

        conn = self._connect()
        try:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        except psycopg.errors.DuplicateDatabase:
            if new:
                raise RestoreError(
                    f"database {name!r} was created by someone else meanwhile; not restoring "
                    "into it"
                ) from None
            # an existing one is checked for emptiness by restore()
        except psycopg.Error as exc:
            raise RestoreError(
                f"cannot create database {name!r}: {redact(one_line(str(exc)))}"
            ) from None
        finally:
            conn.close()
        return self._database_dsn(name)

    def contents(self, to: str) -> list[str] | None:
        """What database ``to`` holds, counted by kind ("2 tables", "1 view"...); None when it
        does not exist."""
        import psycopg
        from psycopg.conninfo import conninfo_to_dict

        name = str(conninfo_to_dict(to).get("dbname", ""))
        try:
            conn = psycopg.connect(to, connect_timeout=max(1, int(self.connect_timeout)))
        except psycopg.OperationalError as exc:
            if name and f'database "{name}" does not exist' in str(exc):
                return None
            raise BackupError(f"postgresql {mask_url(to)}: {redact(one_line(str(exc)))}") from None
        try:
            kinds = [str(k) for (k,) in conn.execute(_CONTENTS).fetchall()]
        finally:
            conn.close()
        return count_kinds(kinds)

    def remove(self, to: str) -> None:
        """Drop database ``to`` (one a failed restore created)."""
        from psycopg import sql
        from psycopg.conninfo import conninfo_to_dict

        name = str(conninfo_to_dict(to)["dbname"])
        conn = self._admin(to, avoid=name)
        try:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
        finally:
            conn.close()

    def _admin(self, to: str, avoid: str) -> Any:
        """A session on ``to``'s server in a database other than ``avoid`` (to drop or rename
        it): ``postgres``, else ``template1``."""
        tried: BackupError | None = None
        for name in ("postgres", "template1"):
            if name != avoid:
                try:
                    return self._connect(self._with_dbname(to, name))
                except BackupError as exc:
                    tried = tried or exc
        raise tried or BackupError(f"no database to connect to besides {avoid!r}")

    def restore(
        self, read: ReadArtifact, to: str, *, force: bool = False, tables: list[str] | None = None
    ) -> str:
        existing = self.contents(to)
        if existing is None:
            raise RestoreError(
                f"postgresql {mask_url(to)}: the database does not exist (--to needs an "
                "existing database; --database NAME creates one)"
            )
        if existing and not force:
            raise RestoreError(
                f"postgresql {mask_url(to)} is not empty ({', '.join(existing)}); restore into "
                "a new database, or pass --force to restore over it"
            )
        if existing and not tables:
            swapped = self._restore_beside(read, to)
            if swapped is not None:
                return swapped
        return self._load(read, to, force=force, tables=tables)

    def preflight(self, to: str, *, force: bool, tables: list[str] | None) -> None:
        """A ``--force`` restore over a whole database swaps by renaming, which needs no session
        connected to it: refused now, before the backup is read, when one is."""
        from psycopg.conninfo import conninfo_to_dict

        if not force or tables:
            return
        name = str(conninfo_to_dict(to)["dbname"])
        admin = self._admin(to, avoid=name)
        try:
            _refuse_if_busy(admin, name, f"postgresql {mask_url(to)}")
        finally:
            admin.close()

    def _restore_beside(self, read: ReadArtifact, to: str) -> str | None:
        """``--force`` over a whole database: restore into a new one beside it, then swap it
        in by renaming (:mod:`~buttress.backup.sources.pg_swap`); None when this user may not
        create databases (the restore then goes in place, as pg_restore --clean)."""
        import psycopg
        from psycopg import sql
        from psycopg.conninfo import conninfo_to_dict

        from buttress.backup.sources import pg_swap

        name = str(conninfo_to_dict(to)["dbname"])
        where = f"postgresql {mask_url(to)}"
        admin = self._admin(to, avoid=name)
        try:
            _refuse_if_busy(admin, name, where)
            props = pg_swap.properties(admin, name)
            new = pg_swap.new_name(name, "new")
            try:
                pg_swap.create_like(admin, new, props)
            except psycopg.errors.InsufficientPrivilege:
                return None
            except psycopg.Error as exc:
                raise RestoreError(
                    f"{where}: cannot create the database to restore into beside it: "
                    f"{redact(one_line(str(exc)))}",
                    target_state="untouched",
                ) from None
            drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
            try:
                self._load(read, self._with_dbname(to, new), force=False, tables=None)
                old = pg_swap.swap(admin, name, new, props)
            except BaseException as exc:
                with contextlib.suppress(psycopg.Error):
                    admin.execute(drop.format(sql.Identifier(new)))
                if isinstance(exc, BackupError):
                    raise RestoreError(
                        str(exc),
                        target_state="untouched (the restore went into a new database beside "
                        "it, now dropped)",
                    ) from None
                raise
            try:
                admin.execute(drop.format(sql.Identifier(old)))
            except psycopg.Error as exc:
                return (
                    f"{where} (the previous copy is kept as database {old!r}: it could not be "
                    f"dropped: {redact(one_line(str(exc)))})"
                )
        finally:
            admin.close()
        return f"{where} (restored beside it, then swapped in; the previous copy dropped)"

    @staticmethod
    def _with_dbname(to: str, name: str) -> str:
        from psycopg.conninfo import conninfo_to_dict, make_conninfo

        params = conninfo_to_dict(to)
        params["dbname"] = name
        return make_conninfo(**{k: str(v) for k, v in params.items()})

    def _load(self, read: ReadArtifact, to: str, *, force: bool, tables: list[str] | None) -> str:
        """pg_restore the dump into ``to`` (over what is there with ``force``)."""
        dsn, env = _split(to)
        args = ["pg_restore", "--no-password", "--exit-on-error", "--dbname", dsn]
        if force:
            args += ["--clean", "--if-exists"]
        for table in tables or []:
            args += ["--table", table.split(".")[-1]]
        # the stream says its format: a custom-format archive ("PGDMP...") goes straight into
        # pg_restore (or, with restore_jobs > 1, into several); a directory-format dump (a tar)
        # is unpacked, then restored in parallel
        jobs = self.restore_jobs

        def sequential() -> _RestoreSink:
            return _RestoreSink(args, env, jobs, self.tmp_dir)

        sink: RestoreSink = (
            ParallelRestoreSink(args, env, jobs, self.tmp_dir, sequential)
            if jobs > 1 and not force and not tables
            else sequential()
        )
        try:
            with contextlib.suppress(BrokenPipeError):  # the consumer stopped: finish says why
                read("dump", sink)  # type: ignore[arg-type]
            sink.finish(f"restore into {mask_url(to)}")
        except BackupError as exc:
            sink.abort()
            if isinstance(exc, RestoreError | CorruptBackupError):
                raise
            raise RestoreError(str(exc)) from None
        except BaseException:
            sink.abort()
            raise
        finally:
            sink.cleanup()
        return f"postgresql {mask_url(to)}"

    def restore_globals(self, read: ReadArtifact, to: str) -> str:
        """Apply the roles and tablespaces (``pg_dumpall --globals-only``) to the server of
        ``to`` with psql. Roles that exist already are reported, not fatal (``CREATE ROLE``
        fails, the ``ALTER ROLE`` after it still applies the backed-up attributes)."""
        dsn, env = _split(to)
        args = ["psql", "--no-password", "--quiet", "--no-psqlrc", "--dbname", dsn, "-f", "-"]
        tool = Tool("psql", args, env, stdin=True)
        stdin = tool.stdin
        try:
            with contextlib.suppress(BrokenPipeError):
                read("globals", stdin)  # type: ignore[arg-type]
                stdin.close()
        except BaseException:
            tool.kill()
            raise
        rc = tool.proc.wait()
        tool.stderr.seek(0)
        errors = [
            ln for ln in tool.stderr.read().decode(errors="replace").splitlines() if "ERROR" in ln
        ]
        tool.kill()
        if rc != 0:
            raise RestoreError(
                f"globals into {mask_url(to)}: psql failed: {redact(' | '.join(errors[-3:]))}"
            )
        existing = [e for e in errors if "already exists" in e]
        other = [e for e in errors if "already exists" not in e]
        if other:
            raise RestoreError(
                f"globals into {mask_url(to)}: {len(other)} statements failed: "
                + redact(" | ".join(other[:3]))
            )
        note = f" ({len(existing)} already existed)" if existing else ""
        return f"roles and tablespaces on {mask_url(to)}{note}"

    def inspect(self, where: str, tables: list[str] | None = None) -> dict[str, Any]:
        conn = self._connect(where)
        try:
            return self._facts(conn, tables)
        finally:
            conn.close()
