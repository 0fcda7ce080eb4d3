"""The backup jobs that ``buttress serve`` runs, on the control plane's job runner
(:mod:`buttress.jobs`): each target's ``schedule`` (a backup) and ``restore_test_schedule`` (a
restore test of its newest good backup), as cron expressions in UTC. The restore test of a
physical PostgreSQL target that archives WAL is a PITR test (:mod:`buttress.backup.pitr_test`:
the newest base backup restored to a restore point made now, through the archived WAL) when
the scheduler is given the ``restore_command`` to fetch with; else it restores the base
backup alone (``verify --restore-test``).

The runner keeps each job's next due time in the catalog and starts it on the elected leader
only, so with several replicas a backup runs once, not once per replica. A job still running
when it comes due again is skipped (its claim ``job:backup:<target>``), and a run's own claim
on its target (taken by :meth:`Backups.start`) refuses a second run started elsewhere (the CLI,
the API), so a target is never backed up twice at once. A due time found more than a minute
late (the control plane was down, or no replica led) is skipped, as cron would; the next one
comes at its time. A server stopped mid-backup leaves that run ``incomplete`` (no manifest;
its claim dies with the process), which ``prune`` cleans up.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from buttress.errors import ButtressError
from buttress.jobs import Cron, Job, JobContext, JobRunner

if TYPE_CHECKING:
    from buttress.backup.service import Backups
    from buttress.config import BackupConfig

__all__ = ["BACKUP_HANDLER", "RESTORE_TEST_HANDLER", "BackupScheduler", "job_key"]

log = logging.getLogger("buttress.backup")

BACKUP_HANDLER = "backup.run"
RESTORE_TEST_HANDLER = "backup.restore_test"


def job_key(kind: str, target: str) -> str:
    """The job runner's key of a target's ``backup`` or ``restore_test`` job."""
    return f"{kind}:{target}"


class BackupScheduler:
    """Registers each target's jobs with ``runner`` and runs them.

    Args:
        config: the ``backup:`` section.
        backups: builds the service each job runs through (a fresh one per job).
        runner: the control plane's job runner.
        pitr_command: the ``restore_command`` that fetches a target's archived WAL (given
            the target's name); with it, the scheduled restore test of a physical target
            with ``wal:`` is a PITR test.
    """

    def __init__(
        self,
        config: BackupConfig,
        backups: Callable[[], Backups],
        runner: JobRunner,
        *,
        pitr_command: Callable[[str], str] | None = None,
    ) -> None:
        self.backups = backups
        self.runner = runner
        self.pitr_command = pitr_command
        self.pitr_targets = {
            t.name
            for t in config.targets
            if getattr(t, "kind", None) == "physical" and getattr(t, "wal", None) is not None
        }
        self.slots = threading.BoundedSemaphore(config.max_parallel)
        self.keys: dict[str, tuple[str, str]] = {}  # job key -> (target, kind)
        runner.handler(BACKUP_HANDLER, self._backup)
        runner.handler(RESTORE_TEST_HANDLER, self._restore_test)
        for target in config.targets:
            seconds = target.schedule_seconds
            if target.schedule:
                self._add(target.name, "backup", target.schedule, seconds, BACKUP_HANDLER)
            if target.restore_test_schedule:
                cron = target.restore_test_schedule
                self._add(target.name, "restore_test", cron, seconds, RESTORE_TEST_HANDLER)

    def _add(self, target: str, kind: str, cron: str, seconds: bool, handler: str) -> None:
        key = job_key(kind, target)
        self.runner.register(
            Job(key, Cron(cron, "UTC", seconds=seconds), handler, payload={"target": target})
        )
        self.keys[key] = (target, kind)

    def __bool__(self) -> bool:
        return bool(self.keys)

    def next_times(self) -> dict[tuple[str, str], dt.datetime]:
        """(target, kind) -> its next due time, as the catalog holds it."""
        due = self.runner.due()
        return {self.keys[key]: when for key, when in due.items() if key in self.keys}

    def _backup(self, ctx: JobContext) -> None:
        target = str(ctx.payload["target"])
        with self.slots:
            log.info("scheduled backup of %s: starting", target)
            try:
                view = self.backups().run(target, trigger="schedule")
            except ButtressError as exc:
                log.error("scheduled backup of %s failed: %s", target, exc)
                raise
        log.info("scheduled backup of %s: %s, %d bytes stored", target, view.id, view.stored_size)

    def _restore_test(self, ctx: JobContext) -> None:
        target = str(ctx.payload["target"])
        if self.pitr_command is not None and target in self.pitr_targets:
            self._pitr_test(target, self.pitr_command(target))
            return
        with self.slots:
            backups = self.backups()
            good = [r for r in backups.runs(target, limit=20) if r.status == "succeeded"]
            if not good:
                log.warning("scheduled restore test of %s: no good backup yet", target)
                raise ButtressError("no good backup to test")
            log.info("scheduled restore test of %s: backup %s", target, good[0].id)
            try:
                result = backups.verify(good[0].id, restore=True)
            except ButtressError as exc:
                log.error("scheduled restore test of %s failed: %s", target, exc)
                raise
        ok = result.ok and result.restore_test is not None
        tested = result.restore_test.problems if result.restore_test is not None else []
        problems = "; ".join(result.problems + tested)
        log.log(
            logging.INFO if ok else logging.ERROR,
            "scheduled restore test of %s (backup %s): %s",
            target,
            good[0].id,
            "ok" if ok else problems,
        )
        if not ok:
            raise ButtressError(f"restore test of backup {good[0].id}: {problems}")

    def _pitr_test(self, target: str, restore_command: str) -> None:
        from buttress.backup.pitr_test import pitr_test

        with self.slots:
            log.info("scheduled restore test of %s: a PITR test through the archive", target)
            try:
                result = pitr_test(self.backups(), target, restore_command)
            except ButtressError as exc:
                log.error("scheduled PITR test of %s could not run: %s", target, exc)
                raise
        problems = "; ".join(result.problems)
        log.log(
            logging.INFO if result.ok else logging.ERROR,
            "scheduled PITR test of %s (base backup %s, restore point %s): %s in %.1fs",
            target,
            result.backup_id,
            result.point,
            "ok" if result.ok else problems,
            result.seconds,
        )
        if not result.ok:
            raise ButtressError(f"PITR test of base backup {result.backup_id}: {problems}")
