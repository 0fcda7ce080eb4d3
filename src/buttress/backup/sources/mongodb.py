"""MongoDB: ``mongodump --archive`` of one database (with ``--oplog`` on a replica set, for a
point-in-time dump), restored with ``mongorestore --archive --nsFrom/--nsTo``.

Needs the MongoDB Database Tools (``mongodump``, ``mongorestore``) on PATH and PyMongo for the
facts a restore test compares (documents per collection, index names). The counts are read just
before the dump: on a replica set ``--oplog`` makes the dump itself a point in time, but the
counts may differ under writes; on a standalone server neither is a snapshot.

The connection string (with its password) reaches the tools through a temporary YAML
``--config`` file (mode 0600), never argv.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import unquote, urlsplit

from buttress.backup.errors import BackupError, RestoreError
from buttress.backup.sources.base import ReadArtifact, Source, Tool, count_kinds, feed
from buttress.secrets import mask_url, redact

__all__ = ["MongoSource", "dump_command", "restore_command"]


def _database(dsn: str) -> str:
    parts = urlsplit(dsn)
    if parts.scheme not in ("mongodb", "mongodb+srv") or not parts.path.strip("/"):
        raise BackupError(
            f"mongodb dsn {mask_url(dsn)!r}: expected mongodb://user:password@host:port/database"
        )
    return parts.path.strip("/").split("/")[0]


def _with_database(dsn: str, database: str) -> str:
    parts = urlsplit(dsn)
    return parts._replace(path=f"/{database}").geturl()


def dump_command(config: Path, database: str, oplog: bool) -> list[str]:
    """The mongodump argv (no secret in it: the URI is in ``config``). ``--oplog`` dumps the
    whole deployment (it cannot be limited to one database)."""
    scope = ["--oplog"] if oplog else [f"--db={database}"]
    return ["mongodump", f"--config={config}", *scope, "--archive", "--quiet"]


def restore_command(
    config: Path,
    source_db: str,
    target_db: str,
    *,
    drop: bool,
    oplog: bool = False,
    collections: list[str] | None = None,
) -> list[str]:
    """The mongorestore argv: the archive from stdin, ``source_db.*`` (or only ``collections``)
    renamed to ``target_db.*``."""
    include = [f"--nsInclude={source_db}.{c}" for c in collections or ["*"]]
    args = [
        "mongorestore",
        f"--config={config}",
        "--archive",
        *include,
        f"--nsFrom={source_db}.*",
        f"--nsTo={target_db}.*",
        "--quiet",
    ]
    if drop:
        args.append("--drop")
    if oplog:
        args.append("--oplogReplay")
    return args


@contextlib.contextmanager
def _config_file(uri: str) -> Iterator[Path]:
    """The YAML ``--config`` file the tools read the URI from (mode 0600), removed after."""
    fd, name = tempfile.mkstemp(prefix="buttress-mongo-", suffix=".yaml")
    try:
        with os.fdopen(fd, "w") as out:
            out.write(f"uri: {json.dumps(uri)}\n")  # JSON strings are valid YAML scalars
        yield Path(name)
    finally:
        Path(name).unlink(missing_ok=True)


class MongoSource(Source):
    """One MongoDB database.

    Args:
        dsn: ``mongodb://user:password@host:port/database`` (options such as ``authSource``
            go in the query string).
        oplog: dump with ``--oplog`` (replica sets only; the whole deployment is dumped and
            the restore keeps only this database).
        connect_timeout: seconds.
    """

    kind = "mongodb"
    dsn: str
    has_databases = True

    def __init__(self, dsn: str, *, oplog: bool = False, connect_timeout: float = 10.0) -> None:
        self.dsn = dsn
        self.database = _database(dsn)
        self.oplog = oplog
        self.connect_timeout = connect_timeout
        self._meta: dict[str, Any] = {}

    def describe(self) -> str:
        return f"mongodb {mask_url(self.dsn)}"

    def location(self) -> dict[str, Any]:
        rest = self.dsn.split("://", 1)[-1].split("/", 1)[0]
        userinfo, _, hosts = rest.rpartition("@")
        user = unquote(userinfo.split(":", 1)[0]) if userinfo else None
        return {"host": hosts, "database": self.database, "user": user}

    @property
    def artifacts(self) -> list[str]:
        return ["archive"]

    def _client(self, dsn: str | None = None) -> Any:
        try:
            import pymongo
        except ImportError:
            raise BackupError(
                "mongodb sources need PyMongo (pip install 'buttress[mongodb]')"
            ) from None
        return pymongo.MongoClient(
            dsn or self.dsn,
            serverSelectionTimeoutMS=int(self.connect_timeout * 1000),
            connectTimeoutMS=int(self.connect_timeout * 1000),
        )

    def _facts(self, dsn: str, database: str) -> dict[str, Any]:
        import pymongo.errors

        client = self._client(dsn)
        try:
            db = client[database]
            counts: dict[str, int] = {}
            fingerprint = hashlib.sha256()
            for name in sorted(db.list_collection_names()):
                if name.startswith("system."):
                    continue
                counts[name] = int(db[name].count_documents({}))
                indexes = sorted(ix["name"] for ix in db[name].list_indexes())
                fingerprint.update(repr((name, indexes)).encode())
            return {"row_counts": counts, "schema_fingerprint": fingerprint.hexdigest()}
        except pymongo.errors.PyMongoError as exc:
            raise BackupError(f"mongodb {mask_url(dsn)}: {redact(str(exc))}") from None
        finally:
            client.close()

    def check(self) -> dict[str, Any]:
        import pymongo.errors

        client = self._client()
        try:
            version = str(client.server_info()["version"])
        except pymongo.errors.PyMongoError as exc:
            raise BackupError(f"{self.describe()}: {redact(str(exc))}") from None
        finally:
            client.close()
        self._meta = self._facts(self.dsn, self.database)
        return {"server_version": version}

    @contextlib.contextmanager
    def dump(self, artifact: str) -> Iterator[BinaryIO]:
        with _config_file(self.dsn) as config:
            tool = Tool("mongodump", dump_command(config, self.database, self.oplog), None, False)
            with tool.output(f"{self.describe()} (archive)") as stream:
                yield stream

    def metadata(self) -> dict[str, Any]:
        return self._meta

    @contextlib.contextmanager
    def scratch(self) -> Iterator[str]:
        name = f"buttress_restore_{secrets.token_hex(4)}"
        try:
            yield _with_database(self.dsn, name)
        finally:
            client = self._client()
            with contextlib.suppress(Exception):
                client.drop_database(name)
            client.close()

    def database_dsn(self, name: str) -> str:
        """The DSN of database ``name`` on the source's server."""
        return _with_database(self.dsn, name)

    def create_database(self, name: str, *, new: bool = False) -> str:
        """The DSN of database ``name`` on the source's server (MongoDB creates it on write)."""
        return _with_database(self.dsn, name)

    def contents(self, to: str) -> list[str] | None:
        """What database ``to`` holds: its collections and views (``system.*`` aside, except
        ``system.views``'s views, listed by name); None when it does not exist."""
        import pymongo.errors

        target_db = _database(to)
        client = self._client(to)
        try:
            if target_db not in client.list_database_names():
                return None
            kinds = [
                "view" if c.get("type") == "view" else "collection"
                for c in client[target_db].list_collections()
                if not str(c.get("name", "")).startswith("system.")
            ]
        except pymongo.errors.PyMongoError as exc:
            raise BackupError(f"mongodb {mask_url(to)}: {redact(str(exc))}") from None
        finally:
            client.close()
        return count_kinds(kinds)

    def remove(self, to: str) -> None:
        """Drop database ``to`` (one a failed restore created)."""
        client = self._client(to)
        try:
            client.drop_database(_database(to))
        finally:
            client.close()

    def restore(
        self, read: ReadArtifact, to: str, *, force: bool = False, tables: list[str] | None = None
    ) -> str:
        target_db = _database(to)
        existing = self.contents(to)
        if existing and not force:
            raise RestoreError(
                f"mongodb {mask_url(to)} is not empty ({', '.join(existing)}); restore "
                "into a new database, or pass --force to restore over it"
            )
        with _config_file(to) as config:
            args = restore_command(
                config, self.database, target_db, drop=force, oplog=self.oplog, collections=tables
            )
            tool = Tool("mongorestore", args, None, stdin=True)
            feed(tool, read, "archive", f"restore into {mask_url(to)}")
        return f"mongodb {mask_url(to)}"

    def inspect(self, where: str, tables: list[str] | None = None) -> dict[str, Any]:
        facts = self._facts(where, _database(where))
        if tables:
            facts = {"row_counts": {k: v for k, v in facts["row_counts"].items() if k in tables}}
        return facts
