"""``wal fetch``'s prefetch (``wal.prefetch > 0`` and a ``wal.spool_dir``).

Recovery asks ``restore_command`` for one segment at a time and waits for each. After a fetch of
segment N, ``wal fetch`` starts (detached; at most one at a time per target, through the lock
file ``in/.prefetch.lock``) ``buttress wal fetch --prefetch TARGET N``, which downloads the
next ``prefetch`` segments of N's timeline into ``<spool_dir>/<target>/in/<name>-<sha256>``
(each checked by the archive's fetch, then hashed), and keeps ``prefetch`` ahead as recovery
takes them, stopping at the first one the archive does not hold yet (or when recovery takes
nothing for a while). A later fetch looks there first: a file whose content still has the
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
import time
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


def _fetch_one(
    spool: Spool, fetch: Fetch, name: WalName, missing: tuple[type[Exception], ...]
) -> bool:
    """Download ``name`` into the spool as ``<name>-<sha256>``; False when the archive does
    not hold it (yet)."""
    tmp = spool.in_dir / f".{name.name}.{os.getpid()}.tmp"
    try:
        fetch(name.name, tmp)
    except missing:
        return False
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if not tmp.exists():
        return False
    sha = sha256_file(tmp)
    tmp.replace(spool.in_dir / f"{name.name}-{sha}")
    return True


def prefetch(
    spool: Spool,
    fetch: Fetch,
    after: str,
    count: int,
    missing: tuple[type[Exception], ...],
    segment_size: int = DEFAULT_SEGMENT_SIZE,
    follow: float = 0.0,
) -> list[str]:
    """Download the ``count`` segments after ``after`` (same timeline) that are not
    prefetched yet; stop at the first the archive does not hold. The names downloaded.

    With ``follow`` (seconds), keep going as recovery takes the prefetched segments (each
    :func:`take` removes one): always ``count`` ahead of the oldest one still waiting, until
    the archive lacks the next segment or nothing was taken for ``follow`` seconds. One
    long-lived prefetch then feeds a whole recovery, instead of one process (and its start)
    per ``count`` segments."""
    start = parse_name(after, segment_size)
    if not start.is_segment or count <= 0:
        return []
    for entry in spool.in_dir.iterdir():  # a killed prefetch's (the lock is ours)
        if entry.name.startswith(".") and ".tmp" in entry.name:
            entry.unlink(missing_ok=True)
    got: list[str] = []
    name = start
    idle_since = time.monotonic()
    waiting_before: set[str] | None = None
    while True:
        waiting = {
            n.name
            for n, _, _ in _prefetched(spool)
            if n.is_segment and n.timeline == start.timeline and n.segno > start.segno
        }
        if waiting_before is not None and waiting != waiting_before:
            idle_since = time.monotonic()
        waiting_before = waiting
        # recovery has asked up to the segment before the oldest still waiting
        asked = (
            min((parse_name(w, segment_size).segno for w in waiting), default=name.segno + 1) - 1
        )
        fetched_any = False
        while name.segno < asked + count:
            name = name.next(segment_size)
            if name.name in waiting:
                continue
            if not _fetch_one(spool, fetch, name, missing):
                with contextlib.suppress(OSError):
                    fsync_dir(spool.in_dir)
                return got
            got.append(name.name)
            fetched_any = True
        with contextlib.suppress(OSError):
            fsync_dir(spool.in_dir)
        if follow <= 0:
            return got
        if fetched_any:
            waiting_before = None
            continue
        if time.monotonic() - idle_since > follow:
            return got
        time.sleep(0.02)


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
