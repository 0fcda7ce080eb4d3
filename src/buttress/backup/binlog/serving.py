"""The binlog pushers ``buttress serve`` runs: one thread per target with ``binlog:``, each
streaming only while it holds the target's claim (:func:`~.pusher.run_exclusively`), so that
of several replicas sharing the catalog (or a ``buttress binlog pusher`` beside them) exactly
one streams each target."""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from buttress.backup.binlog.pusher import BinlogPusher, run_exclusively
from buttress.errors import ButtressError

if TYPE_CHECKING:
    from buttress.backup.service import Backups

__all__ = ["BinlogPushers"]

log = logging.getLogger("buttress.backup.binlog")


class BinlogPushers:
    """Start with :meth:`start`, end with :meth:`stop` (which stores each current file)."""

    def __init__(self, backups: Backups) -> None:
        self.backups = backups
        self.stopping = threading.Event()
        self.threads: list[threading.Thread] = []

    def start(self) -> None:
        for target in self.backups.config.targets:
            if getattr(target, "binlog", None) is None:
                continue
            try:
                pusher = BinlogPusher(self.backups, target.name)
            except ButtressError as exc:
                log.error("binlog pusher of %s not started: %s", target.name, exc)
                continue
            thread = threading.Thread(
                target=self._run,
                args=(pusher,),
                name=f"buttress-binlog-{target.name}",
                daemon=True,
            )
            thread.start()
            self.threads.append(thread)

    def _run(self, pusher: BinlogPusher) -> None:
        try:
            run_exclusively(pusher, self.backups.catalog, self.stopping)
        except Exception:  # a thread's end is logged, never silent
            log.exception("%s stopped", pusher.describe())

    def stop(self, timeout: float = 60.0) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout)
        self.threads.clear()
