"""Opening the catalog database: SQLite (WAL) by default, PostgreSQL by DSN."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from buttress._pgerror import one_line, refusal
from buttress.errors import CatalogError, ConfigError
from buttress.secrets import redact

__all__ = ["Catalog", "catalog_url"]

SQLITE_FILE = "catalog.db"


HEAD_REVISION = "0012"
"""The newest migration (tests/catalog check it is Alembic's head)."""


def catalog_url(url: str | None, data_dir: Path) -> str:
    """The SQLAlchemy URL to use: ``url`` (PostgreSQL DSNs get the psycopg 3 driver), or the
    SQLite file in ``data_dir``."""
    if not url:
        return f"sqlite:///{data_dir / SQLITE_FILE}"
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


class Catalog:
    """The catalog database: an engine, a session factory and the schema's migrations.

    The caller owns the transaction: ``with catalog.begin() as session: ...`` commits on a
    clean exit and rolls back on an exception.
    """

    def __init__(self, url: str, *, connect_timeout: float = 5.0) -> None:
        try:
            parsed = make_url(url)
        except ArgumentError as exc:
            raise ConfigError(
                "catalog.url is not a valid database URL "
                "(expected e.g. postgresql://user:password@host:5432/dbname)"
            ) from exc
        self.url = parsed
        self.backend = parsed.get_backend_name()
        if self.backend not in ("sqlite", "postgresql"):
            raise ConfigError(
                f"catalog.url: unsupported database {self.backend!r}; use sqlite or postgresql"
            )
        connect_args: dict[str, Any] = {}
        if self.backend == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                _private_file(Path(parsed.database))
            connect_args = {"timeout": connect_timeout, "check_same_thread": False}
        else:
            connect_args = {"connect_timeout": max(1, round(connect_timeout))}
        try:
            self.engine: Engine = create_engine(
                parsed, connect_args=connect_args, pool_pre_ping=True
            )
        except (NoSuchModuleError, ImportError) as exc:
            raise ConfigError(f"catalog.url: no driver for {parsed.drivername!r}: {exc}") from exc
        if self.backend == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def location(self) -> str:
        """Where the catalog is, for display: host and database, never the password."""
        if self.backend == "sqlite":
            return f"sqlite:{self.url.database}"
        port = f":{self.url.port}" if self.url.port else ""
        return f"postgresql://{self.url.host or 'localhost'}{port}/{self.url.database or ''}"

    @contextlib.contextmanager
    def begin(self) -> Iterator[Session]:
        """A session in a transaction: committed on success, rolled back on error."""
        with self._guard(), self._sessions.begin() as session:
            yield session

    def ping(self) -> None:
        """Check the database answers.

        Raises:
            CatalogError: it does not; the message names the host, never the password.
        """
        with self._guard(), self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def upgrade(self, revision: str = "head") -> None:
        """Apply the schema migrations up to ``revision`` (idempotent)."""
        if revision == "head" and self.revision() == HEAD_REVISION:
            return  # already current: no need to load Alembic and its scripts (~0.3 s)
        from buttress.catalog.migrate import upgrade

        with self._guard(), self._migration_lock():
            upgrade(self, revision)

    @contextlib.contextmanager
    def _migration_lock(self) -> Iterator[None]:
        """SQLite: processes starting together on one new file migrate one at a time (a lock
        file beside it; the others then find the schema current). PostgreSQL serialises them
        with an advisory lock inside the migration's transaction (migrations/env.py)."""
        database = self.url.database
        if self.backend != "sqlite" or not database or database == ":memory:":
            yield
            return
        import fcntl

        lock_path = Path(f"{database}.migrate.lock")
        with lock_path.open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def revision(self) -> str | None:
        """The schema revision recorded in the catalog (None: empty or unreadable)."""
        try:
            with self._guard(), self.engine.connect() as conn:
                row = conn.execute(text("SELECT version_num FROM alembic_version")).first()
        except Exception:  # noqa: BLE001  # no table yet (a new catalog): Alembic decides
            return None
        return str(row[0]) if row else None

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()

    @contextlib.contextmanager
    def _guard(self) -> Iterator[None]:
        try:
            yield
        except DBAPIError as exc:
            if exc.connection_invalidated or _is_connect_error(exc):
                answer = refusal(str(exc.orig))
                if answer is not None:  # it answered: say what, not that it did not
                    raise CatalogError(
                        f"catalog database at {self.location} refused the connection: "
                        f"{redact(answer)}"
                    ) from exc
                raise CatalogError(
                    f"catalog database at {self.location} did not answer: {_reason(exc)}"
                ) from exc
            raise CatalogError(
                f"catalog database error at {self.location}: {_reason(exc)}"
            ) from exc
        except SQLAlchemyError as exc:
            raise CatalogError(
                f"catalog database error at {self.location}: {_reason(exc)}"
            ) from exc


def _private_file(path: Path) -> None:
    """Create the SQLite file's directory 0700 and the file itself 0600 before SQLite opens it
    (SQLite gives its -wal and -shm files the database file's mode). Existing ones are left as
    they are."""
    if not path.parent.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    except OSError as exc:
        raise CatalogError(f"cannot create the catalog file {path}: {exc.strerror}") from exc
    os.close(fd)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def _is_connect_error(exc: DBAPIError) -> bool:
    text_ = str(exc.orig).lower()
    return any(
        s in text_
        for s in (
            "connection refused",
            "could not connect",
            "connection failed",
            "timeout",
            "unable to open",
        )
    )


def _reason(exc: Exception) -> str:
    orig = getattr(exc, "orig", None) or exc
    return redact(one_line(str(orig)) or type(orig).__name__)
