"""The backup jobs on the job runner: they are due at the cron's times, start when due (not
before) and move on to the next time; a job still running is skipped rather than doubled; a
restore test runs on the newest good backup; failures are recorded in the job's runs, not
raised; a killed run whose PID is reused does not block the schedule."""

from __future__ import annotations

import datetime as dt
import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from croniter import croniter
from sqlalchemy import update

from buttress.backup.scheduler import BackupScheduler, job_key
from buttress.backup.service import Backups
from buttress.backup.tables import BackupRun
from buttress.catalog import Catalog, catalog_url, claims
from buttress.config import load
from buttress.jobs import JobRunner, RunInfo
from buttress.jobs.tables import JobRow
from tests.backup.conftest import config_file, recipient
from tests.conftest import wait_until

Setup = tuple[Backups, BackupScheduler, JobRunner, Catalog]


@pytest.fixture
def setup(project: Path) -> Iterator[Setup]:
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
    runner = JobRunner(catalog, replica="test", lease=2.0, renew=0.5)
    scheduler = BackupScheduler(config.backup, lambda: Backups(config.backup, catalog), runner)
    assert runner.election.step()
    runner._sync()
    yield Backups(config.backup, catalog), scheduler, runner, catalog
    runner.stop()
    catalog.dispose()


def _due_now(catalog: Catalog, *keys: str) -> None:
    with catalog.begin() as session:
        now = claims.catalog_now(session)
        session.execute(update(JobRow).where(JobRow.key.in_(keys)).values(next_due=now))


def _ended(runner: JobRunner, key: str, count: int = 1) -> list[RunInfo]:
    wait_until(
        lambda: len([r for r in runner.runs(key) if r.outcome != "running"]) >= count,
        f"{count} ended run(s) of {key}",
        timeout=60,
    )
    return runner.runs(key)


def test_jobs_start_when_due_and_follow_the_cron(setup: Setup) -> None:
    backups, scheduler, runner, catalog = setup
    now = dt.datetime.now(dt.UTC)
    three = croniter("0 3 * * *", now).get_next(dt.datetime)
    half = croniter("30 3 * * *", now).get_next(dt.datetime)
    assert scheduler.next_times() == {
        ("site", "backup"): three,
        ("site", "restore_test"): half,
        ("db", "backup"): three,
    }
    assert runner.step() == []  # nothing is due yet
    _due_now(catalog, job_key("backup", "site"), job_key("backup", "db"))
    assert len(runner.step()) == 2
    (site,) = _ended(runner, job_key("backup", "site"))
    (db,) = _ended(runner, job_key("backup", "db"))
    assert site.outcome == "succeeded"
    assert db.outcome == "failed"  # recorded, and the schedule goes on
    assert "127.0.0.1:1" in db.error
    assert "pw-9" not in db.error
    runs = {r.target: r for r in backups.runs()}
    assert runs["site"].status == "succeeded"
    assert runs["site"].detail["trigger"] == "schedule"
    assert scheduler.next_times()[("site", "backup")] == croniter(
        "0 3 * * *", dt.datetime.now(dt.UTC)
    ).get_next(dt.datetime)
    _due_now(catalog, job_key("restore_test", "site"))
    runner.step()
    (tested,) = _ended(runner, job_key("restore_test", "site"))
    assert tested.outcome == "succeeded"
    assert backups.get(runs["site"].id).restore_test_status == "ok"


def test_a_job_still_running_is_skipped_not_doubled(setup: Setup) -> None:
    backups, scheduler, runner, catalog = setup
    gate = threading.Event()
    real = scheduler.backups

    class Slow:
        def __getattr__(self, name: str) -> object:
            return getattr(real(), name)

        def run(self, name: str, trigger: str) -> object:
            gate.wait(30)
            return real().run(name, trigger=trigger)

    scheduler.backups = Slow  # type: ignore[assignment]
    key = job_key("backup", "site")
    _due_now(catalog, key)
    assert len(runner.step()) == 1
    _due_now(catalog, key)
    assert runner.step() == []
    skipped = [r for r in runner.runs(key) if r.outcome == "skipped"]
    assert len(skipped) == 1
    assert skipped[0].error.startswith("still running")
    gate.set()
    _ended(runner, key, 2)
    assert len([r for r in backups.runs("site") if r.status == "succeeded"]) == 1


def test_a_restore_test_with_no_good_backup_says_so(setup: Setup) -> None:
    _, _, runner, catalog = setup
    key = job_key("restore_test", "site")
    _due_now(catalog, key)
    runner.step()
    (run,) = _ended(runner, key)
    assert run.outcome == "failed"
    assert run.error == "no good backup to test"


def test_a_killed_run_whose_pid_is_reused_does_not_stop_the_schedule(setup: Setup) -> None:
    """A row left `running` by a killed run whose PID now runs another process (here: this
    test's own) no longer makes every scheduled backup of the target fail as busy."""
    backups, _, runner, catalog = setup
    with catalog.begin() as session:
        session.add(
            BackupRun(
                id="20261126T000000Z-dead00",
                target="site",
                status="running",
                started_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=1),
                host=socket.gethostname(),
                pid=os.getpid(),
                detail={},
            )
        )
    key = job_key("backup", "site")
    _due_now(catalog, key)
    runner.step()
    (run,) = _ended(runner, key)
    assert run.outcome == "succeeded"
    statuses = {r.id: r.status for r in backups.runs("site")}
    assert statuses.pop("20261126T000000Z-dead00") == "incomplete"
    assert list(statuses.values()) == ["succeeded"]
