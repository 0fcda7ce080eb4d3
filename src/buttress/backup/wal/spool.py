"""The local spool of asynchronous WAL archiving (``wal.mode: async``), on the database host.

``buttress wal push`` in async mode copies the file PostgreSQL hands over into the spool and
returns: that copy is the acknowledgement (PostgreSQL may recycle its segment as soon as the
command exits 0), so it is written to a temporary name, fsynced, linked to its name (never
over another file) and the folder fsynced, before the push exits. The pusher
(:mod:`.pusher`) stores what the spool holds in the destinations and removes each file once
it is stored and recorded. One folder per target::

    <spool_dir>/<target>/out/<name>            acknowledged, waiting for the pusher
    <spool_dir>/<target>/out/.<name>.<pid>.tmp a copy being written (never acknowledged)
    <spool_dir>/<target>/error/<name>          the pusher's permanent error for <name>
                                               (a conflict, another system's WAL), as text
    <spool_dir>/<target>/error/<name>.wal      the content it could not store, kept to look at
    <spool_dir>/<target>/in/<name>-<sha256>    a segment ``wal fetch`` prefetched
    <spool_dir>/<target>/pusher.lock           held by the one pusher of the target

As pgBackRest's async archiving does with its status files, a push of a name the pusher
recorded an error for fails with that error (and so does every retry of PostgreSQL's) until
the operator removes ``error/<name>`` (and its ``.wal``), having resolved the cause.
"""

from __future__ import annotations

import errno
import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from buttress.backup.errors import BackupError
from buttress.backup.wal.names import WalName, parse_name

__all__ = [
    "Spool",
    "SpoolConflictError",
    "SpoolError",
    "SpoolFullError",
    "SpoolRejectedError",
    "Spooled",
    "fsync_dir",
    "queue_depth",
    "sha256_file",
]

_CHUNK = 1 << 20


class SpoolError(BackupError):
    """The spool could not take a WAL file (nothing was acknowledged)."""


class SpoolFullError(SpoolError):
    """The spool holds ``spool_max_mb`` already, or its disk is full."""


class SpoolConflictError(SpoolError):
    """The spool holds another file of the same name with other content."""


class SpoolRejectedError(SpoolError):
    """The pusher recorded a permanent error for this name (``error/<name>``)."""


@dataclass(frozen=True)
class Spooled:
    """What :meth:`Spool.put` did: ``already`` when the same content was spooled before."""

    name: WalName
    path: Path
    size: int
    already: bool


def fsync_dir(path: Path) -> None:
    """Make the entries of folder ``path`` (a new name, a removal) durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _same_content(a: Path, b: Path) -> bool:
    if a.stat().st_size != b.stat().st_size:
        return False
    with a.open("rb") as fa, b.open("rb") as fb:
        while True:
            ca, cb = fa.read(_CHUNK), fb.read(_CHUNK)
            if ca != cb:
                return False
            if not ca:
                return True


class Spool:
    """One target's spool folder (see the module's documentation).

    Args:
        spool_dir: ``wal.spool_dir``.
        target: the target's name (a safe folder name, as the configuration checks).
        max_bytes: ``wal.spool_max_mb`` in bytes: a push that would make ``out/`` hold more
            is refused.
    """

    def __init__(self, spool_dir: Path, target: str, max_bytes: int) -> None:
        self.root = spool_dir / target
        self.target = target
        self.max_bytes = max_bytes
        self.out_dir = self.root / "out"
        self.error_dir = self.root / "error"
        self.in_dir = self.root / "in"
        self.lock_path = self.root / "pusher.lock"

    def ensure(self) -> None:
        """Make the folders (``SpoolError`` naming the one that cannot be made). Made by
        root (a pusher run as root), they are given to the owner of ``spool_dir``, so that the
        PostgreSQL OS user's pushes can still write them."""
        for folder in (self.root, self.out_dir, self.error_dir, self.in_dir):
            if folder.is_dir():
                continue
            try:
                folder.mkdir(parents=True, exist_ok=True)
                if os.geteuid() == 0:
                    owner = self.root.parent.stat()
                    os.chown(folder, owner.st_uid, owner.st_gid)
            except OSError as exc:
                raise SpoolError(
                    f"WAL spool of target {self.target}: cannot make {folder}: "
                    f"{exc.strerror or exc}"
                ) from exc

    # -- the push side ------------------------------------------------------------------

    def put(self, source: Path, name: str | None = None) -> Spooled:
        """Copy ``source`` (a file PostgreSQL hands over) into ``out/`` durably.

        Raises ``SpoolRejectedError`` when the pusher recorded a permanent error for the name,
        ``SpoolConflictError`` when another content of the name is spooled, ``SpoolFullError``
        when the spool would hold more than ``max_bytes`` or the disk is full, ``SpoolError``
        for any other failure. Nothing is left in ``out/`` under the name unless the copy is
        complete and durable.
        """
        name = name or source.name
        try:
            wal = parse_name(name)
        except ValueError as exc:
            raise SpoolError(f"wal push to target {self.target}: {exc}") from exc
        where = f"WAL spool of target {self.target} ({self.root})"
        refused = self.error(name)
        if refused is not None:
            raise SpoolRejectedError(
                f"{where}: the pusher could not store {name} earlier and will not retry it: "
                f"{refused} (resolve it, then remove {self.error_dir / name} and "
                f"{self.error_dir / (name + '.wal')})"
            )
        try:
            size = source.stat().st_size
        except OSError as exc:
            raise SpoolError(
                f"wal push to target {self.target}: cannot read {source}: {exc.strerror or exc}"
            ) from exc
        self.ensure()
        dest = self.out_dir / name
        if dest.exists():
            again = self._again(source, wal, dest, size, where)
            if again is not None:
                return again
        _, used = self.depth()
        if used + size > self.max_bytes:
            raise SpoolFullError(
                f"{where} holds {used} bytes; {name} ({size} bytes) would pass spool_max_mb "
                f"({self.max_bytes >> 20} MiB): is the pusher running and the destination "
                "reachable? PostgreSQL keeps the segment and retries"
            )
        tmp = self.out_dir / f".{name}.{os.getpid()}.tmp"
        tmp.unlink(missing_ok=True)  # a dead push's, with this process id
        try:
            self._copy(source, tmp)
            try:
                os.link(tmp, dest)  # never over a file of the name
            except FileExistsError:
                again = self._again(source, wal, dest, size, where)
                if again is None:
                    raise
                return again
            fsync_dir(self.out_dir)
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise SpoolFullError(
                    f"{where}: the disk is full while spooling {name}; nothing was "
                    "acknowledged (PostgreSQL keeps the segment and retries)"
                ) from exc
            raise SpoolError(f"{where}: cannot spool {name}: {exc.strerror or exc}") from exc
        finally:
            tmp.unlink(missing_ok=True)
        return Spooled(wal, dest, size, already=False)

    def _again(
        self, source: Path, wal: WalName, dest: Path, size: int, where: str
    ) -> Spooled | None:
        """A push of a name already spooled: the same content is acknowledged again (made
        durable again, in case the first push died before its fsync), other content refused;
        None when the pusher took the file meanwhile (spool it anew: the archive will tell
        the same content from another)."""
        try:
            spooled = dest.stat().st_size
            if not _same_content(source, dest):
                raise SpoolConflictError(
                    f"{where} already holds {wal.name} with other content than {source} "
                    f"({spooled} bytes spooled, {size} handed over): refused; two servers "
                    "archiving into one target?"
                )
            with dest.open("rb") as f:
                os.fsync(f.fileno())
            fsync_dir(self.out_dir)
        except FileNotFoundError:
            return None
        return Spooled(wal, dest, size, already=True)

    @staticmethod
    def _copy(source: Path, tmp: Path) -> None:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
        try:
            with source.open("rb") as src:
                while chunk := src.read(_CHUNK):
                    view = memoryview(chunk)
                    while view:
                        written = os.write(fd, view)
                        view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.utime(tmp)  # ready_at: when it was spooled, not the source's mtime

    # -- the pusher side ----------------------------------------------------------------

    def pending(self, limit: int | None = None) -> list[Path]:
        """Acknowledged files waiting for the pusher, in WAL name order (up to ``limit``);
        unfinished copies and foreign files are left out."""
        found: list[tuple[WalName, Path]] = []
        for path in self._entries(self.out_dir):
            try:
                found.append((parse_name(path.name), path))
            except ValueError:
                continue
        found.sort(key=lambda item: item[0].name)
        chosen = [path for _, path in found]
        return chosen if limit is None else chosen[:limit]

    def done(self, path: Path) -> None:
        """``path`` is stored and recorded: remove it (durably)."""
        path.unlink(missing_ok=True)
        fsync_dir(path.parent)

    def reject(self, path: Path, message: str) -> None:
        """Record a permanent error for ``path``'s name and move its content to ``error/``,
        so that the pusher stops retrying it and the next push of the name reports it."""
        self.ensure()
        status = self.error_dir / path.name
        tmp = self.error_dir / f".{path.name}.{os.getpid()}.tmp"
        tmp.write_text(message.rstrip() + "\n")
        tmp.replace(status)
        path.replace(self.error_dir / f"{path.name}.wal")
        fsync_dir(self.error_dir)
        fsync_dir(self.out_dir)

    def error(self, name: str) -> str | None:
        """The permanent error the pusher recorded for ``name``, if any."""
        try:
            return (self.error_dir / name).read_text().strip() or "(no message)"
        except FileNotFoundError:
            return None

    def errors(self) -> dict[str, str]:
        """Every name with a recorded permanent error -> its message."""
        out: dict[str, str] = {}
        for path in self._entries(self.error_dir):
            if not path.name.endswith(".wal"):
                out[path.name] = path.read_text().strip()
        return out

    def depth(self) -> tuple[int, int]:
        """(files, bytes) acknowledged and not yet pushed."""
        files = size = 0
        for path in self.pending():
            try:
                size += path.stat().st_size
            except FileNotFoundError:  # pushed meanwhile
                continue
            files += 1
        return files, size

    def clean_unfinished(self) -> int:
        """Remove copies left by pushes that died mid-copy (their process is gone); the
        number removed."""
        removed = 0
        for path in self._entries(self.out_dir, hidden=True):
            pid = path.name.rsplit(".", 2)[-2] if path.name.endswith(".tmp") else ""
            if pid.isdigit() and not _alive(int(pid)):
                path.unlink(missing_ok=True)
                removed += 1
        return removed

    @staticmethod
    def _entries(folder: Path, hidden: bool = False) -> Iterator[Path]:
        try:
            entries = list(folder.iterdir())
        except FileNotFoundError:
            return
        for entry in entries:
            if entry.name.startswith(".") == hidden:
                yield entry


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def queue_depth(spool_dir: Path, target: str) -> tuple[int, int]:
    """The pusher's queue of ``target``: (files, bytes) spooled and not yet pushed."""
    return Spool(spool_dir, target, 0).depth()
