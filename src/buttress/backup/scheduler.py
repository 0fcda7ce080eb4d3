"""The backup scheduler that ``buttress serve`` runs: each target's ``schedule`` (a backup) and
``restore_test_schedule`` (a restore test of its newest good backup), as cron expressions in
UTC.

One thread wakes up when the next job is due and starts it on a worker thread of its own (at
most ``backup.max_parallel`` at once). A job still running when it comes due again is skipped,
and a run's claim on its target in the catalog (:mod:`buttress.catalog.claims`, taken by
:meth:`Backups.start`) refuses a second run started elsewhere (the CLI, the API, another
replica), so a target is never backed up twice at once. Runs missed while the server was down
are not caught up (as cron); the next one comes at its time. Worker threads are daemons: a
server stopped mid-backup leaves that run ``incomplete`` (no manifest; its claim dies with the
process, so it does not block the next run), which ``prune`` cleans up.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from buttress.errors import ButtressError

if TYPE_CHECKING:
    from buttress.backup.service import Backups
    from buttress.config import BackupConfig

__all__ = ["BackupScheduler", "Job"]

log = logging.getLogger("buttress.backup")


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class Job:
    """A recurring job: ``kind`` is ``backup`` or ``restore_test``."""

    target: str
    kind: str
    cron: str
    next_at: dt.datetime
    running: bool = False
    last_started: dt.datetime | None = None
    last_error: str = ""

    def advance(self, after: dt.datetime) -> None:
        self.next_at = _next(self.cron, after)


def _next(cron: str, after: dt.datetime) -> dt.datetime:
    from croniter import croniter

    value = croniter(cron, after).get_next(dt.datetime)
    assert isinstance(value, dt.datetime)
    return value


class BackupScheduler:
    """Runs the configured jobs until :meth:`stop`.

    Args:
        config: the ``backup:`` section.
        backups: builds the service each job runs through (a fresh one per job).
        clock: the current time (UTC, aware); tests pass their own.
    """

    def __init__(
        self,
        config: BackupConfig,
        backups: Callable[[], Backups],
        *,
        clock: Callable[[], dt.datetime] = _utcnow,
    ) -> None:
        self.backups = backups
        self.clock = clock
        self.slots = threading.BoundedSemaphore(config.max_parallel)
        self.wake = threading.Event()
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None
        self.workers: list[threading.Thread] = []
        now = clock()
        self.jobs: list[Job] = []
        for target in config.targets:
            if target.schedule:
                self.jobs.append(
                    Job(target.name, "backup", target.schedule, _next(target.schedule, now))
                )
            if target.restore_test_schedule:
                cron = target.restore_test_schedule
                self.jobs.append(Job(target.name, "restore_test", cron, _next(cron, now)))

    def __bool__(self) -> bool:
        return bool(self.jobs)

    def start(self) -> None:
        if self.thread is None and self.jobs:
            self.thread = threading.Thread(
                target=self._loop, name="buttress-backup-scheduler", daemon=True
            )
            self.thread.start()
            for job in self.jobs:
                log.info("scheduled %s of %s: next at %s", job.kind, job.target, job.next_at)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop starting jobs (running ones go on until the process ends)."""
        self.stopping.set()
        self.wake.set()
        if self.thread is not None:
            self.thread.join(timeout)
            self.thread = None

    def _loop(self) -> None:
        while not self.stopping.is_set():
            now = self.clock()
            self.tick(now)
            with self.lock:
                soonest = min(job.next_at for job in self.jobs)
            wait = max(0.05, min((soonest - self.clock()).total_seconds(), 60.0))
            self.wake.wait(wait)
            self.wake.clear()

    def tick(self, now: dt.datetime) -> list[threading.Thread]:
        """Start every job due at ``now``; returns the worker threads started."""
        started = []
        with self.lock:
            for job in self.jobs:
                if job.next_at > now:
                    continue
                job.advance(now)
                if job.running:
                    log.warning(
                        "%s of %s is still running at its next time: skipped", job.kind, job.target
                    )
                    continue
                job.running = True
                job.last_started = now
                worker = threading.Thread(
                    target=self._work,
                    args=(job,),
                    name=f"buttress-{job.kind}-{job.target}",
                    daemon=True,
                )
                self.workers = [w for w in self.workers if w.is_alive()] + [worker]
                worker.start()
                started.append(worker)
        return started

    def _work(self, job: Job) -> None:
        try:
            with self.slots:
                if self.stopping.is_set():
                    return
                if job.kind == "backup":
                    self._backup(job)
                else:
                    self._restore_test(job)
        finally:
            with self.lock:
                job.running = False

    def _backup(self, job: Job) -> None:
        log.info("scheduled backup of %s: starting", job.target)
        try:
            view = self.backups().run(job.target, trigger="schedule")
        except ButtressError as exc:
            job.last_error = str(exc)
            log.error("scheduled backup of %s failed: %s", job.target, exc)
            return
        except Exception as exc:  # a bug must not kill the scheduler: logged with its trace
            job.last_error = f"{type(exc).__name__}: {exc}"
            log.exception("scheduled backup of %s failed unexpectedly", job.target)
            return
        job.last_error = ""
        log.info(
            "scheduled backup of %s: %s, %d bytes stored", job.target, view.id, view.stored_size
        )

    def _restore_test(self, job: Job) -> None:
        try:
            backups = self.backups()
            good = [r for r in backups.runs(job.target, limit=20) if r.status == "succeeded"]
            if not good:
                job.last_error = "no good backup to test"
                log.warning("scheduled restore test of %s: no good backup yet", job.target)
                return
            log.info("scheduled restore test of %s: backup %s", job.target, good[0].id)
            result = backups.verify(good[0].id, restore=True)
        except ButtressError as exc:
            job.last_error = str(exc)
            log.error("scheduled restore test of %s failed: %s", job.target, exc)
            return
        except Exception as exc:
            job.last_error = f"{type(exc).__name__}: {exc}"
            log.exception("scheduled restore test of %s failed unexpectedly", job.target)
            return
        test = result.get("restore_test", {})
        ok = not result["problems"] and test.get("ok", False)
        job.last_error = "" if ok else "; ".join(result["problems"] + test.get("problems", []))
        log.log(
            logging.INFO if ok else logging.ERROR,
            "scheduled restore test of %s (backup %s): %s",
            job.target,
            good[0].id,
            "ok" if ok else job.last_error,
        )
