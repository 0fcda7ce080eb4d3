"""``wal fetch``'s prefetch (``wal.prefetch > 0`` and a ``wal.spool_dir``).

Recovery asks ``restore_command`` for one segment at a time and waits for each. After a fetch of
segment N, ``wal fetch`` starts (detached; at most one at a time per target, through the lock
file ``in/.prefetch.lock``) ``buttress wal fetch --prefetch TARGET N``, which downloads the
next ``prefetch`` segments of N's timeline into ``<spool_dir>/<target>/in/<name>-<sha256>``
(each checked by the archive's fetch, then hashed), stopping at the first one the archive
does not hold yet. A later fetch looks there first: a file whose content still has the
SHA-256 its name says is moved into place (a damaged one is removed and fetched again), and
prefetched segments older than the one asked for (a lower segment number: recovery went past
them) are removed.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from buttress.backup.wal.names import DEFAULT_SEGMENT_SIZE, WalName, parse_name
from buttress.backup.wal.spool import Spool, fsync_dir, sha256_file

__all__ = ["Fetch", "prefetch", "prefetch_lock", "start_prefetch", "take"]

log = logging.getLogger("buttress.backup.wal")

Fetch = Callable[[str, Path], object]
"""Fetches one archived file into a path (:meth:`WalArchive.fetch`); raises the archive's
missing error when no destination holds it."""


def _prefetched(spool: Spool) -> Iterator[tuple[WalName, str, Path]]:
    """(name, sha256, path) of each prefetched file."""
    try:
        entries = list(spool.in_dir.iterdir())
    except FileNotFoundError:
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        base, _, sha = entry.name.rpartition("-")
        try:
            name = parse_name(base)
        except ValueError:
            continue
        yield name, sha, entry


def take(spool: Spool, name: str, out: Path) -> bool:
    """Serve ``name`` from the prefetched files into ``out`` (atomically); False when it is
    not there (or its copy is damaged: removed). Removes the prefetched segments recovery has
    gone past."""
    try:
        wanted = parse_name(name)
    except ValueError:
        return False
    found: Path | None = None
    for have, sha, path in list(_prefetched(spool)):
        if have.name == name:
            if sha256_file(path) == sha:
                found = path
            else:
                log.warning("prefetched %s is damaged (its SHA-256 is not %s): removed", name, sha)
                path.unlink(missing_ok=True)
        elif wanted.is_segment and have.is_segment and have.segno < wanted.segno:
            path.unlink(missing_ok=True)
    if found is None:
        return False
    tmp = out.parent / f".{out.name}.{os.getpid()}.tmp"
    try:
        found.replace(tmp)  # the spool and pg_wal on one file system
    except OSError:
        shutil.copyfile(found, tmp)
        found.unlink(missing_ok=True)
    with tmp.open("rb+") as f:
        os.fsync(f.fileno())
    tmp.replace(out)
    fsync_dir(out.parent)
    return True


@contextlib.contextmanager
def prefetch_lock(spool: Spool) -> Iterator[bool]:
    """Yields whether this process holds the target's prefetch lock (False: another
    prefetch runs)."""
    spool.in_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(spool.in_dir / ".prefetch.lock", os.O_RDWR | os.O_CREAT, 0o660)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)


def prefetch(
    spool: Spool,
    fetch: Fetch,
    after: str,
    count: int,
    missing: tuple[type[Exception], ...],
    segment_size: int = DEFAULT_SEGMENT_SIZE,
) -> list[str]:
    """Download the ``count`` segments after ``after`` (same timeline) that are not
    prefetched yet; stop at the first the archive does not hold. The names downloaded."""
    start = parse_name(after, segment_size)
    if not start.is_segment or count <= 0:
        return []
    for entry in spool.in_dir.iterdir():  # a killed prefetch's (the lock is ours)
        if entry.name.startswith(".") and entry.name.endswith(".tmp"):
            entry.unlink(missing_ok=True)
    have = {name.name for name, _, _ in _prefetched(spool)}
    got: list[str] = []
    name = start
    for _ in range(count):
        name = name.next(segment_size)
        if name.name in have:
            continue
        tmp = spool.in_dir / f".{name.name}.{os.getpid()}.tmp"
        try:
            fetch(name.name, tmp)
        except missing:
            break
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        if not tmp.exists():
            break
        sha = sha256_file(tmp)
        tmp.replace(spool.in_dir / f"{name.name}-{sha}")
        got.append(name.name)
    with contextlib.suppress(OSError):
        fsync_dir(spool.in_dir)
    return got


def start_prefetch(spool: Spool, argv: Sequence[str]) -> bool:
    """Start ``argv`` (``buttress ... wal fetch --prefetch TARGET NAME``) detached, unless a
    prefetch of the target runs already; whether it was started."""
    with prefetch_lock(spool) as free:
        if not free:
            return False
    log_path = spool.in_dir / ".prefetch.log"
    with contextlib.suppress(OSError):
        if log_path.stat().st_size > 1 << 20:
            log_path.unlink()
    # spawned, not a Popen: the fetch returns at once and never waits for it (a new session,
    # so that it outlives the restore_command's process group)
    os.posix_spawn(
        sys.executable,
        [sys.executable, "-m", "buttress", *argv],
        dict(os.environ),
        file_actions=[
            (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
            (os.POSIX_SPAWN_OPEN, 1, str(log_path), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640),
            (os.POSIX_SPAWN_DUP2, 1, 2),
        ],
        setsid=True,
    )
    return True
