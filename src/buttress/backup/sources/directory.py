"""Directories: a tar stream keeping permissions, owners, mtimes and symlinks, with include and
exclude globs; the SHA-256 of every file is recorded while it is read."""

from __future__ import annotations

import contextlib
import contextvars
import fnmatch
import hashlib
import os
import tarfile
import tempfile
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, BinaryIO

from buttress.backup.errors import BackupError, RestoreError
from buttress.backup.sources.base import ReadArtifact, Source, produced

__all__ = ["DirectorySource"]


class _Hashing:
    def __init__(self, f: BinaryIO) -> None:
        self.f = f
        self.h = hashlib.sha256()

    def read(self, n: int = -1) -> bytes:
        data = self.f.read(n)
        self.h.update(data)
        return data


def _tree_facts(root: Path) -> dict[str, Any]:
    files: dict[str, str] = {}
    total = 0
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink():
            h = hashlib.sha256()
            with open(path, "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    h.update(block)
            files[path.relative_to(root).as_posix()] = h.hexdigest()
            total += path.stat().st_size
    return {"file_count": len(files), "total_size": total, "files": files}


class DirectorySource(Source):
    """A directory tree.

    Args:
        path: the directory.
        include: globs (relative paths) to keep; empty: everything.
        exclude: globs to leave out (checked after include).
    """

    kind = "directory"

    def __init__(
        self, path: str | Path, include: list[str] | None = None, exclude: list[str] | None = None
    ) -> None:
        self.path = Path(path)
        self.include = include or []
        self.exclude = exclude or []
        self._meta: dict[str, Any] = {}

    def describe(self) -> str:
        return f"directory {self.path}"

    def location(self) -> dict[str, Any]:
        return {"path": str(self.path)}

    @property
    def artifacts(self) -> list[str]:
        return ["tar"]

    def check(self) -> dict[str, Any]:
        if not self.path.is_dir():
            raise BackupError(f"{self.describe()}: not a directory")
        return {}

    def _wanted(self, rel: str) -> bool:
        if self.include and not any(fnmatch.fnmatch(rel, g) for g in self.include):
            return False
        return not any(fnmatch.fnmatch(rel, g) for g in self.exclude)

    def _write_tar(self, out: BinaryIO) -> None:
        files: dict[str, str] = {}
        total = 0
        with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            for dirpath, dirnames, filenames in os.walk(self.path):
                dirnames.sort()
                base = Path(dirpath)
                for name in sorted(dirnames) + sorted(filenames):
                    full = base / name
                    rel = full.relative_to(self.path).as_posix()
                    is_dir = name in dirnames and not full.is_symlink()
                    if not is_dir and not self._wanted(rel):
                        continue
                    info = tar.gettarinfo(str(full), arcname=rel)
                    if info.isreg():
                        with open(full, "rb") as f:
                            hashing = _Hashing(f)
                            tar.addfile(info, hashing)
                        files[rel] = hashing.h.hexdigest()
                        total += info.size
                    else:
                        tar.addfile(info)
        self._meta = {"file_count": len(files), "total_size": total, "files": files}

    def dump(self, artifact: str) -> AbstractContextManager[BinaryIO]:
        return produced(self._write_tar, self.describe())

    def metadata(self) -> dict[str, Any]:
        return self._meta

    @contextlib.contextmanager
    def scratch(self) -> Iterator[str]:
        with tempfile.TemporaryDirectory(prefix="buttress-restore-") as folder:
            yield folder

    def restore(
        self, read: ReadArtifact, to: str, *, force: bool = False, tables: list[str] | None = None
    ) -> str:
        target = Path(to)
        if tables:
            raise RestoreError("directory: --tables applies to databases only")
        if target.exists() and any(target.iterdir()) and not force:
            raise RestoreError(f"directory {target} is not empty; choose another, or pass --force")
        target.mkdir(parents=True, exist_ok=True)
        rfd, wfd = os.pipe()
        reader, writer = os.fdopen(rfd, "rb"), os.fdopen(wfd, "wb")
        errors: list[BaseException] = []

        def feed() -> None:
            try:
                read("tar", writer)
            except BaseException as exc:  # noqa: BLE001  # re-raised by the extracting side
                errors.append(exc)
            finally:
                with contextlib.suppress(OSError):
                    writer.close()

        # the feeding thread reports progress like its caller would: give it the context
        thread = threading.Thread(target=contextvars.copy_context().run, args=(feed,), daemon=True)
        thread.start()

        def safe(member: tarfile.TarInfo, dest: str) -> tarfile.TarInfo:
            tarfile.tar_filter(member, dest)  # refuses absolute paths and escapes; raises
            return member  # but keeps modes, owners and mtimes as archived

        try:
            with tarfile.open(fileobj=reader, mode="r|") as tar:
                tar.extractall(target, numeric_owner=True, filter=safe)  # noqa: S202  # filtered
        except (tarfile.TarError, OSError) as exc:
            if not errors:
                raise RestoreError(f"directory {target}: {exc}") from None
        finally:
            reader.close()
            thread.join()
        if errors:
            raise errors[0]
        return f"directory {target}"

    def contents(self, to: str) -> list[str] | None:
        """The entries of directory ``to`` (a file there counts as one); None when missing."""
        target = Path(to)
        if not target.exists():
            return None
        if not target.is_dir():
            return ["an existing file"]
        entries = sum(1 for _ in target.iterdir())
        return [f"{entries} entr{'y' if entries == 1 else 'ies'}"] if entries else []

    def remove(self, to: str) -> None:
        """Remove directory ``to`` and what a failed restore unpacked into it."""
        import shutil

        shutil.rmtree(to, ignore_errors=True)

    def inspect(self, where: str, tables: list[str] | None = None) -> dict[str, Any]:
        return _tree_facts(Path(where))
