"""Asynchronous WAL archiving put together from the configuration: each target's spool, its
pusher over the WAL service, and the pushers ``buttress serve`` runs in the background."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from buttress.backup.wal.pusher import Pusher
from buttress.backup.wal.spool import Spool

if TYPE_CHECKING:
    from buttress.backup.wal.archive import PushResult
    from buttress.backup.wal.service import Wal
    from buttress.config import BackupConfig
    from buttress.config._backup import PostgresqlTargetConfig

__all__ = ["PusherStatus", "PusherThreads", "async_targets", "build_pusher", "target_spool"]

log = logging.getLogger("buttress.backup.wal")


@dataclass(frozen=True)
class PusherStatus:
    """One target's pusher: files and bytes spooled, batches failed in a row, why the last
    one failed ("" once a batch succeeds)."""

    files: int
    bytes: int
    failures: int
    last_error: str


def target_spool(target: PostgresqlTargetConfig) -> Spool | None:
    """The target's spool (None when it has no ``wal.spool_dir``)."""
    wal = target.wal
    if wal is None or wal.spool_dir is None:
        return None
    return Spool(wal.spool_dir, target.name, wal.spool_max_mb << 20)


def async_targets(config: BackupConfig) -> list[PostgresqlTargetConfig]:
    """The targets with ``wal.mode: async``."""
    from buttress.config._backup import PostgresqlTargetConfig

    return [
        t
        for t in config.targets
        if isinstance(t, PostgresqlTargetConfig) and t.wal is not None and t.wal.mode == "async"
    ]


def build_pusher(wal: Wal, target: PostgresqlTargetConfig) -> Pusher:
    """The pusher of ``target``'s spool, storing through ``wal``'s archive of the target and
    recording in its catalog."""
    from buttress.backup.wal.errors import WalConflictError, WalIdentityError

    spool = target_spool(target)
    if spool is None or target.wal is None:
        raise ValueError(f"target {target.name} has no wal.spool_dir")
    archive = wal.archive(target.name)
    first = threading.Lock()
    identified: list[bool] = []

    def store(path: Path, name: str) -> PushResult:
        # the first segment writes the archive's identity (archive.json): one push at a time
        # until it is there, so that parallel workers do not write it twice
        if identified:
            return archive.push(path, name)
        with first:
            result = archive.push(path, name)
            if archive.info() is not None:
                identified.append(True)
            return result

    return Pusher(
        spool,
        store,
        lambda result, ready_at: wal.record(target.name, result, ready_at, "async"),
        permanent=(WalConflictError, WalIdentityError),
        workers=target.wal.push_workers,
        batch=target.wal.batch,
    )


class PusherThreads:
    """The pushers of ``buttress serve``: one thread per async target whose spool folder
    exists on this host (the pusher runs on the database host; a server elsewhere, where the
    folder is missing, pushes nothing and says so)."""

    def __init__(self, wal: Wal, targets: Sequence[PostgresqlTargetConfig]) -> None:
        self.stop = threading.Event()
        self.pushers: dict[str, Pusher] = {}
        self.threads: list[threading.Thread] = []
        for target in targets:
            spool = target_spool(target)
            if spool is None:
                continue
            if not Path(spool.root.parent).is_dir():
                log.info(
                    "WAL pusher of %s: not run here, %s does not exist on this host (the "
                    "pusher runs on the database host, beside the spool)",
                    target.name,
                    spool.root.parent,
                )
                continue
            self.pushers[target.name] = build_pusher(wal, target)

    def start(self) -> None:
        for name, pusher in self.pushers.items():
            thread = threading.Thread(
                target=pusher.run, args=(self.stop,), name=f"wal-pusher-{name}", daemon=True
            )
            thread.start()
            self.threads.append(thread)

    def status(self) -> dict[str, PusherStatus]:
        """Each running pusher's queue and last failure (for metrics and the API)."""
        out = {}
        for name, pusher in self.pushers.items():
            files, size = pusher.spool.depth()
            out[name] = PusherStatus(files, size, pusher.failures, pusher.last_error)
        return out

    def close(self, timeout: float = 30.0) -> None:
        """Stop the pushers (each finishes the batch it is in)."""
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout)
