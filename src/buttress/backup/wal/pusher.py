"""The pusher of asynchronous WAL archiving: stores what the spool (:mod:`.spool`) holds.

It runs on the database host, where the spool is: ``buttress wal pusher TARGET`` (``--once``:
push what is spooled, then exit), or a background thread of ``buttress serve`` for every target
with ``wal.mode: async`` whose spool folder exists on the host the server runs on (a server on
another host pushes nothing). One pusher per target at a time: it holds ``pusher.lock`` (an
``flock``) while it runs; a second one waits for it (serve) or is refused (the command).

Each batch takes up to ``wal.batch`` spooled files in name order and uploads ``push_workers``
at once (threads calling :meth:`WalArchive.push`); each file is recorded in the catalog
(``wal_segments``, ``mode`` "async", ``ready_at`` the spool file's modification time: when
PostgreSQL handed it over) and only then removed from the spool. Killed anywhere in that
sequence, a restarted pusher pushes the file again: the archive answers ``already`` for the
same name and content, and the catalog keeps one row per name. A destination that fails
leaves the file spooled; the pusher logs why and retries with a growing pause (``backoff``,
up to ``backoff_max``). A permanent error (another content already archived under the name,
another system's WAL) moves the file to ``error/`` with the reason, where the next ``wal push``
of the name reports it, as pgBackRest's status files do.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import logging
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from buttress.backup.errors import BackupError
from buttress.backup.wal.spool import Spool
from buttress.errors import ButtressError

if TYPE_CHECKING:
    from buttress.backup.wal.archive import PushResult

__all__ = ["Batch", "Pusher", "PusherBusyError", "pusher_lock"]

log = logging.getLogger("buttress.backup.wal")

Store = Callable[[Path, str], "PushResult"]
"""Stores one file in the destinations (:meth:`WalArchive.push`)."""
Record = Callable[["PushResult", dt.datetime], None]
"""Records a stored file in the catalog, with its ``ready_at``."""


class PusherBusyError(BackupError):
    """Another pusher of the target runs (it holds the spool's ``pusher.lock``)."""


@dataclass
class Batch:
    """What one batch did: names pushed, names left spooled (why), names moved to error/."""

    pushed: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    rejected: dict[str, str] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.pushed or self.failed or self.rejected)

    def add(self, other: Batch) -> None:
        self.pushed += other.pushed
        self.failed.update(other.failed)
        self.rejected.update(other.rejected)


@contextlib.contextmanager
def pusher_lock(spool: Spool, wait: bool) -> Iterator[None]:
    """Hold the spool's pusher lock (``PusherBusyError`` when another holds it and not
    ``wait``)."""
    spool.ensure()
    fd = os.open(spool.lock_path, os.O_RDWR | os.O_CREAT, 0o660)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            raise PusherBusyError(
                f"another WAL pusher of target {spool.target} runs (process {holder}, "
                f"holding {spool.lock_path})"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock


Outcome = tuple[Literal["pushed", "failed", "rejected", "gone"], str]


class Pusher:
    """Pushes one target's spool.

    Args:
        spool: the target's spool.
        store: stores one file (:meth:`WalArchive.push`).
        record: records a stored file in the catalog.
        permanent: the errors a retry cannot cure (a conflict, another system's WAL): the
            file goes to ``error/``.
        workers: files uploaded at once (``wal.push_workers``).
        batch: files taken per batch (``wal.batch``).
        backoff, backoff_max: the first pause after a failed batch, doubled after each
            failure up to ``backoff_max`` (seconds).
        poll: the pause while the spool is empty (seconds).
    """

    def __init__(
        self,
        spool: Spool,
        store: Store,
        record: Record,
        *,
        permanent: tuple[type[Exception], ...] = (),
        workers: int = 4,
        batch: int = 16,
        backoff: float = 1.0,
        backoff_max: float = 60.0,
        poll: float = 0.5,
    ) -> None:
        self.spool = spool
        self.store = store
        self.record = record
        self.permanent = permanent
        self.workers = workers
        self.batch = batch
        self.backoff = backoff
        self.backoff_max = backoff_max
        self.poll = poll
        self.failures = 0  # batches in a row with a failure
        self.last_error = ""

    def push_batch(self) -> Batch:
        """Push up to ``batch`` spooled files, ``workers`` at once."""
        out = Batch()
        paths = self.spool.pending(self.batch)
        if not paths:
            return out
        with ThreadPoolExecutor(
            max_workers=min(self.workers, len(paths)), thread_name_prefix="wal-push"
        ) as pool:
            for path, (what, why) in zip(paths, pool.map(self._one, paths), strict=True):
                if what == "pushed":
                    out.pushed.append(path.name)
                elif what == "failed":
                    out.failed[path.name] = why
                elif what == "rejected":
                    out.rejected[path.name] = why
        return out

    def _one(self, path: Path) -> Outcome:
        name = path.name
        try:
            spooled = path.stat().st_mtime
        except FileNotFoundError:
            return "gone", ""
        ready_at = dt.datetime.fromtimestamp(spooled, dt.UTC)
        try:
            result = self.store(path, name)
        except self.permanent as exc:
            message = str(exc)
            self.spool.reject(path, message)
            log.error(
                "WAL pusher of %s: %s refused for good, moved to %s: %s",
                self.spool.target,
                name,
                self.spool.error_dir,
                message,
            )
            return "rejected", message
        except (ButtressError, OSError) as exc:
            return "failed", str(exc)
        for dest, why in result.failed.items():
            log.warning(
                "WAL pusher of %s: %s not stored in destination %s (stored in the required "
                "count): %s",
                self.spool.target,
                name,
                dest,
                why,
            )
        try:
            self.record(result, ready_at)
        except (ButtressError, OSError) as exc:  # stored; recorded on the retry
            return "failed", f"stored, but not recorded in the catalog: {exc}"
        self.spool.done(path)
        return "pushed", ""

    def drain(self) -> Batch:
        """Push batches until the spool is empty or a batch fails (``--once``)."""
        total = Batch()
        while True:
            batch = self.push_batch()
            total.add(batch)
            if not batch or batch.failed:
                return total

    def pause(self, batch: Batch) -> float:
        """How long to wait after ``batch`` (and note its failures)."""
        if batch.failed:
            self.failures += 1
            first, why = next(iter(batch.failed.items()))
            self.last_error = f"{first}: {why}"
            wait = min(self.backoff_max, self.backoff * float(1 << min(self.failures - 1, 30)))
            log.warning(
                "WAL pusher of %s: %d file(s) stay spooled (%s: %s); retrying in %.1fs",
                self.spool.target,
                len(batch.failed),
                first,
                why,
                wait,
            )
            return wait
        if self.failures:
            log.info("WAL pusher of %s: pushing again", self.spool.target)
        self.failures = 0
        self.last_error = ""
        return 0.0 if batch else self.poll

    def run(self, stop: threading.Event) -> None:
        """Push until ``stop`` is set (holding the spool's pusher lock; waits for it)."""
        busy = False
        while not stop.is_set():
            try:
                with pusher_lock(self.spool, wait=False):
                    self.spool.clean_unfinished()
                    log.info("WAL pusher of %s: running (%s)", self.spool.target, self.spool.root)
                    while not stop.is_set():
                        stop.wait(self.pause(self.push_batch()))
                    return
            except PusherBusyError as exc:
                if not busy:
                    log.info("%s; waiting for it to stop", exc)
                busy = True
                stop.wait(max(self.poll, 5.0))
            except (ButtressError, OSError) as exc:  # the spool folder itself failed
                self.last_error = str(exc)
                log.error("WAL pusher of %s: %s", self.spool.target, exc)
                stop.wait(self.backoff_max)
