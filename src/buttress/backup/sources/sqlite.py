"""SQLite: a consistent copy through the online backup API (safe while the database is being
written), streamed from a temporary file next to it."""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from buttress.backup.errors import BackupError, RestoreError
from buttress.backup.sources.base import ReadArtifact, Source

__all__ = ["SqliteSource"]


def _facts(path: Path, tables: list[str] | None = None) -> dict[str, Any]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = conn.execute(
            "SELECT name, coalesce(sql, '') FROM sqlite_master "
            "WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name"
        ).fetchall()
        names = [
            n
            for (n,) in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' "
                "AND name NOT LIKE 'sqlite_%' ORDER BY name"
            )
        ]
        counts = {}
        for n in names:
            if not tables or n in tables:
                quoted = n.replace('"', '""')
                query = f'SELECT count(*) FROM "{quoted}"'  # noqa: S608  # a quoted table name
                counts[n] = conn.execute(query).fetchone()[0]
    except sqlite3.Error as exc:
        raise BackupError(f"sqlite {path}: {exc}") from None
    finally:
        conn.close()
    fingerprint = hashlib.sha256(repr(rows).encode()).hexdigest()
    return {"row_counts": counts, "schema_fingerprint": fingerprint}


class SqliteSource(Source):
    """One SQLite database file."""

    kind = "sqlite"

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._copy: Path | None = None
        self._meta: dict[str, Any] = {}

    def describe(self) -> str:
        return f"sqlite {self.path}"

    def location(self) -> dict[str, Any]:
        return {"path": str(self.path)}

    @property
    def artifacts(self) -> list[str]:
        return ["db"]

    def check(self) -> dict[str, Any]:
        if not self.path.is_file():
            raise BackupError(f"{self.describe()}: no such file")
        return {"server_version": sqlite3.sqlite_version}

    @contextlib.contextmanager
    def dump(self, artifact: str) -> Iterator[BinaryIO]:
        fd, name = tempfile.mkstemp(prefix=".buttress-backup-", suffix=".db", dir=self.path.parent)
        os.close(fd)
        copy = Path(name)
        try:
            try:
                src = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
                dst = sqlite3.connect(copy)
                with dst:
                    src.backup(dst)
                # the copy keeps the source's WAL mode, and a read-only open of a WAL database
                # (the facts below, a stock-tools reader) leaves -wal and -shm files behind it
                dst.execute("PRAGMA journal_mode=DELETE")
                src.close()
                dst.close()
            except sqlite3.Error as exc:
                raise BackupError(f"{self.describe()}: {exc}") from None
            self._meta = _facts(copy)
            with open(copy, "rb") as stream:
                yield stream
        finally:
            for leftover in (copy, Path(f"{copy}-wal"), Path(f"{copy}-shm")):
                leftover.unlink(missing_ok=True)

    def metadata(self) -> dict[str, Any]:
        return self._meta

    @contextlib.contextmanager
    def scratch(self) -> Iterator[str]:
        with tempfile.TemporaryDirectory(prefix="buttress-restore-") as folder:
            yield str(Path(folder) / "restored.db")

    def restore(
        self, read: ReadArtifact, to: str, *, force: bool = False, tables: list[str] | None = None
    ) -> str:
        target = Path(to)
        if tables:
            raise RestoreError("sqlite: --tables is not supported; restore the file, then copy")
        if target.exists() and not force:
            raise RestoreError(f"sqlite {target} exists; choose a new path, or pass --force")
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".partial")
        try:
            with open(partial, "wb") as out:
                read("db", out)
            partial.replace(target)
        finally:
            partial.unlink(missing_ok=True)
        return f"sqlite {target}"

    def contents(self, to: str) -> list[str] | None:
        """An existing path counts as not empty (a restore never writes over a file)."""
        return ["an existing file"] if Path(to).exists() else None

    def remove(self, to: str) -> None:
        Path(to).unlink(missing_ok=True)  # a failed restore leaves only its .partial, removed

    def inspect(self, where: str, tables: list[str] | None = None) -> dict[str, Any]:
        return _facts(Path(where), tables)
