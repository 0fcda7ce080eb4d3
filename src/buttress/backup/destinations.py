"""Where backup objects are stored. Every destination writes atomically: an object appears under
its final name only once it is whole (a partial name, then a rename; or an upload, then a
manifest), so a crashed run leaves partials and no manifest, never a backup that looks good.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import BinaryIO, Protocol

from buttress.backup.errors import BackupError

__all__ = ["Destination", "LocalDestination", "ObjectWriter"]

_PARTIAL = ".partial-"


class ObjectWriter(Protocol):
    def write(self, data: bytes | memoryview) -> None: ...
    def commit(self) -> None: ...
    def abort(self) -> None: ...


class Destination(Protocol):
    """One place a backup's objects go (a directory, a bucket...): every operation the
    engine (write, copy, verify, restore) and prune use. Each raises :class:`BackupError`
    naming the destination when the storage fails; keys are ``/``-separated, relative to the
    destination's root, never absolute nor with ``..``."""

    name: str

    def describe(self) -> str:
        """The name and where it is, for messages (no secrets)."""

    def writer(self, key: str) -> ObjectWriter:
        """A writer whose object appears under ``key`` only on ``commit()``."""

    def reader(self, key: str) -> BinaryIO:
        """The object at ``key``, to read (``BackupError`` when it is not there)."""

    def put(self, key: str, data: bytes) -> None:
        """Store ``data`` at ``key`` (atomically)."""

    def get(self, key: str) -> bytes:
        """The whole object at ``key``."""

    def exists(self, key: str) -> bool:
        """Whether a whole object is at ``key``."""

    def keys(self, prefix: str) -> list[str]:
        """Every key under ``prefix`` (``""``: all), sorted."""

    def delete(self, key: str) -> None:
        """Remove the object at ``key`` (no error when it is not there)."""

    def delete_many(self, keys: Sequence[str]) -> None:
        """Remove the objects at ``keys``, in that order as far as the storage allows (S3
        removes up to 1,000 per request); no error for a key that is not there. Raises
        :class:`BackupError` naming a key it could not remove (earlier ones may be gone)."""

    def size(self, key: str) -> int | None:
        """The object's size in bytes, or None when it is not there."""

    def abort_unfinished(self, keep: Callable[[str], bool]) -> list[str]:
        """Abort the unfinished writes that killed runs left (S3's multipart uploads), but
        those whose key ``keep`` claims (live runs'); the keys aborted. A destination whose
        unfinished writes are objects that :meth:`keys` lists returns ``[]``: prune removes
        them with the run they belong to."""


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class _LocalWriter:
    def __init__(self, dest: LocalDestination, key: str) -> None:
        self.dest = dest
        self.key = key
        self.final = dest.path_of(key)
        self.partial = self.final.with_name(self.final.name + _PARTIAL + secrets.token_hex(4))
        self.made: list[Path] = []  # folders this write creates (their entries made durable)
        folder = self.final.parent
        while not folder.is_dir():  # the root too, on the first write
            self.made.append(folder)
            folder = folder.parent
        try:
            self.final.parent.mkdir(parents=True, exist_ok=True)
            self.file = open(self.partial, "xb")  # noqa: SIM115  # closed in commit/abort
        except OSError as exc:
            raise dest.error(exc, key) from None

    def write(self, data: bytes | memoryview) -> None:
        try:
            self.file.write(data)
        except OSError as exc:
            self.abort()
            raise self.dest.error(exc, self.key) from None

    def commit(self) -> None:
        try:
            self.file.flush()
            os.fsync(self.file.fileno())
            self.file.close()
            self.partial.replace(self.final)
            # the new name (and any folder made for it) durable before the write counts as
            # done: a WAL push acknowledged, then lost to a power cut, is a hole in the WAL
            for folder in (self.final.parent, *(made.parent for made in self.made)):
                _fsync_dir(folder)
        except OSError as exc:
            self.abort()
            raise self.dest.error(exc, self.key) from None

    def abort(self) -> None:
        with contextlib.suppress(OSError):
            self.file.close()
        self.partial.unlink(missing_ok=True)


class LocalDestination:
    """A directory (a local disk, an NFS or other mounted volume)."""

    def __init__(self, name: str, path: Path) -> None:
        self.name = name
        self.root = Path(path)

    def describe(self) -> str:
        return f"{self.name} ({self.root})"

    def path_of(self, key: str) -> Path:
        if key.startswith("/") or ".." in key.split("/"):
            raise BackupError(f"destination {self.name}: invalid object key {key!r}")
        return self.root / key

    def error(self, exc: OSError, key: str) -> BackupError:
        return BackupError(f"destination {self.describe()}: {exc.strerror or exc} writing {key}")

    def writer(self, key: str) -> ObjectWriter:
        return _LocalWriter(self, key)

    def reader(self, key: str) -> BinaryIO:
        try:
            return open(self.path_of(key), "rb")
        except OSError as exc:
            raise BackupError(
                f"destination {self.describe()}: cannot read {key}: {exc.strerror}"
            ) from None

    def put(self, key: str, data: bytes) -> None:
        w = self.writer(key)
        w.write(data)
        w.commit()

    def get(self, key: str) -> bytes:
        with self.reader(key) as f:
            return f.read()

    def exists(self, key: str) -> bool:
        return self.path_of(key).is_file()

    def keys(self, prefix: str) -> list[str]:
        base = self.root / prefix if prefix else self.root
        if not base.exists():
            return []
        found = [str(p.relative_to(self.root)) for p in base.rglob("*") if p.is_file()]
        return sorted(found)

    def size(self, key: str) -> int | None:
        path = self.path_of(key)
        return path.stat().st_size if path.is_file() else None

    def abort_unfinished(self, keep: Callable[[str], bool]) -> list[str]:
        """Nothing to abort: a killed run's ``.partial-`` files are objects :meth:`keys`
        lists, which prune removes with the run they belong to."""
        return []

    def delete_many(self, keys: Sequence[str]) -> None:
        for key in keys:
            self.delete(key)

    def delete(self, key: str) -> None:
        path = self.path_of(key)
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:
            raise BackupError(
                f"destination {self.describe()}: cannot delete {key}: {exc.strerror}"
            ) from None
        # drop folders left empty (a pruned backup's), never the root
        parent = path.parent
        while parent != self.root and self.root in parent.parents:
            try:
                parent.rmdir()
            except OSError:
                break
            parent = parent.parent
