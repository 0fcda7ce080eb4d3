"""The scheduler with a clock of the test's own: jobs start when due (not before), the next
time follows the cron expression, a job still running is skipped rather than doubled, a
restore test runs on the newest good backup, and failures are recorded, not raised."""

from __future__ import annotations

import datetime as dt
import os
import socket
import threading
from pathlib import Path

import pytest

from buttress.backup.scheduler import BackupScheduler
from buttress.backup.service import Backups
from buttress.backup.tables import BackupRun
from buttress.catalog import Catalog, catalog_url
from buttress.config import load
from tests.backup.conftest import config_file, recipient

T0 = dt.datetime(2026, 11, 27, 2, 59, 59, tzinfo=dt.UTC)


@pytest.fixture
def setup(project: Path) -> tuple[Backups, BackupScheduler, Catalog]:
    config_file(project, recipient(project))
    text = (project / "buttress.yaml").read_text()
    text = text.replace(
        "source: directory, path: site}",
        "source: directory, path: site, schedule: '0 3 * * *',"
        " restore_test_schedule: '30 3 * * *'}",
    ).replace(
        "dsn: 'postgresql://nobody:pw-9@127.0.0.1:1/x'}",
        "dsn: 'postgresql://nobody:pw-9@127.0.0.1:1/x', schedule: '0 3 * * *'}",
    )
    (project / "buttress.yaml").write_text(text)
    config = load(project / "buttress.yaml")
    catalog = Catalog(catalog_url(None, project / ".buttress"))
    catalog.upgrade()
    scheduler = BackupScheduler(
        config.backup, lambda: Backups(config.backup, catalog), clock=lambda: T0
    )
    return Backups(config.backup, catalog), scheduler, catalog


def _join(threads: list[threading.Thread]) -> None:
    for t in threads:
        t.join(60)


def test_jobs_start_when_due_and_follow_the_cron(
    setup: tuple[Backups, BackupScheduler, Catalog],
) -> None:
    backups, scheduler, catalog = setup
    assert [(j.target, j.kind, j.next_at.isoformat()) for j in scheduler.jobs] == [
        ("site", "backup", "2026-11-27T03:00:00+00:00"),
        ("site", "restore_test", "2026-11-27T03:30:00+00:00"),
        ("db", "backup", "2026-11-27T03:00:00+00:00"),
    ]
    assert scheduler.tick(T0) == []
    _join(scheduler.tick(T0 + dt.timedelta(seconds=1)))
    runs = {r.target: r for r in backups.runs()}
    assert runs["site"].status == "succeeded"
    assert runs["site"].detail["trigger"] == "schedule"
    assert runs["db"].status == "failed"  # recorded, and the scheduler goes on
    assert "127.0.0.1:1" in scheduler.jobs[2].last_error
    assert scheduler.jobs[0].next_at.isoformat() == "2026-11-28T03:00:00+00:00"
    _join(scheduler.tick(T0 + dt.timedelta(minutes=31)))
    tested = backups.get(runs["site"].id)
    assert tested.restore_test_status == "ok"
    assert scheduler.jobs[1].last_error == ""
    catalog.dispose()


def test_a_job_still_running_is_skipped_not_doubled(
    setup: tuple[Backups, BackupScheduler, Catalog], caplog: pytest.LogCaptureFixture
) -> None:
    backups, scheduler, catalog = setup
    gate = threading.Event()
    real = scheduler.backups

    class Slow:
        def __getattr__(self, name: str) -> object:
            return getattr(real(), name)

        def run(self, name: str, trigger: str) -> object:
            gate.wait(30)
            return real().run(name, trigger=trigger)

    scheduler.backups = Slow  # type: ignore[assignment]
    first = scheduler.tick(T0 + dt.timedelta(seconds=1))
    again = scheduler.tick(T0 + dt.timedelta(days=1, seconds=1))
    assert "buttress-backup-site" not in [t.name for t in again]
    assert "buttress-restore_test-site" in [t.name for t in again]
    assert "backup of site is still running at its next time: skipped" in caplog.text
    gate.set()
    _join(first + again)
    assert len([r for r in backups.runs("site") if r.status == "succeeded"]) == 1
    catalog.dispose()


def test_a_restore_test_with_no_good_backup_says_so(
    setup: tuple[Backups, BackupScheduler, Catalog],
) -> None:
    _, scheduler, catalog = setup
    job = scheduler.jobs[1]
    job.next_at = T0
    _join(scheduler.tick(T0))
    assert job.last_error == "no good backup to test"
    catalog.dispose()


def test_a_killed_run_whose_pid_is_reused_does_not_stop_the_schedule(
    setup: tuple[Backups, BackupScheduler, Catalog],
) -> None:
    """A row left `running` by a killed run whose PID now runs another process (here: this
    test's own) no longer makes every scheduled backup of the target fail as busy."""
    backups, scheduler, catalog = setup
    with catalog.begin() as session:
        session.add(
            BackupRun(
                id="20261126T000000Z-dead00",
                target="site",
                status="running",
                started_at=T0 - dt.timedelta(days=1),
                host=socket.gethostname(),
                pid=os.getpid(),
                detail={},
            )
        )
    _join(scheduler.tick(T0 + dt.timedelta(seconds=1)))
    assert scheduler.jobs[0].last_error == ""
    statuses = {r.id: r.status for r in backups.runs("site")}
    assert statuses.pop("20261126T000000Z-dead00") == "incomplete"
    assert list(statuses.values()) == ["succeeded"]
    catalog.dispose()
