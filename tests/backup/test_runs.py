"""The run lifecycle on each catalog backend: a run whose PID is alive but is not its process
(a reused PID: the test's own, or PID 1) does not block its target; racing starts (threads,
and processes on SQLite) give exactly one run; abandon marks a dead run, refuses a live one
unless forced, and is audited."""

from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import psycopg
import pytest

from buttress.backup.errors import BackupBusyError, BackupError
from buttress.backup.service import Backups
from buttress.backup.tables import BackupRun
from buttress.catalog import Catalog, audit, claims
from buttress.catalog.tables import Claim, utcnow
from buttress.config import load
from buttress.errors import UsageError
from tests.backup.conftest import config_file, recipient
from tests.conftest import wait_until


@pytest.fixture
def backups(project: Path, catalog: Catalog) -> Backups:
    config_file(project, recipient(project))
    return Backups(load(project / "buttress.yaml").backup, catalog)


def _stuck_run(catalog: Catalog, run_id: str, pid: int, claim: claims.Owner | None) -> None:
    """A `running` row of target `site` left by a killed run on this host (PID ``pid``), with
    an expired claim recorded for ``claim`` (or, as before claims existed, none)."""
    with catalog.begin() as session:
        session.add(
            BackupRun(
                id=run_id,
                target="site",
                status="running",
                started_at=utcnow() - dt.timedelta(hours=1),
                host=socket.gethostname(),
                pid=pid,
                detail={"trigger": "cli"},
            )
        )
        if claim is not None:
            now = claims.catalog_now(session)
            session.add(
                Claim(
                    key="backup:site",
                    holder=run_id,
                    host=claim.host,
                    machine=claim.machine,
                    pid=claim.pid,
                    pid_started=claim.started,
                    claimed_at=now - dt.timedelta(hours=1),
                    heartbeat_at=now - dt.timedelta(minutes=10),
                    expires_at=now - dt.timedelta(minutes=9),
                )
            )


@pytest.mark.parametrize("pid", [os.getpid(), 1], ids=["own-pid", "pid-1"])
def test_a_killed_run_whose_pid_is_reused_does_not_block_its_target(
    backups: Backups, catalog: Catalog, pid: int
) -> None:
    """A row left `running` by a killed run, its PID now another live process: the run is
    incomplete and the next backup of the target goes ahead."""
    _stuck_run(catalog, "20261201T000000Z-dead01", pid, None)
    assert backups.get("20261201T000000Z-dead01").status == "incomplete"
    assert backups.running("site") is None
    view = backups.run("site")
    assert view.status == "succeeded"


@pytest.mark.parametrize("pid", [os.getpid(), 1], ids=["own-pid", "pid-1"])
def test_an_expired_claim_on_a_reused_pid_is_taken_over(
    backups: Backups, catalog: Catalog, pid: int
) -> None:
    """The claim of a dead run (expired lease; its PID alive but started at another time)
    is taken over by the next run, which then holds the target."""
    here = claims.Owner.current()
    _stuck_run(catalog, "20261201T000000Z-dead02", pid, claims.Owner(here.host, here.machine,
                                                                      pid, 1.0))  # fmt: skip
    assert backups.get("20261201T000000Z-dead02").status == "incomplete"
    new = backups.start("site")
    with catalog.begin() as session:
        claim = claims.get(session=session, key="backup:site")
        assert claim is not None
        assert claim.holder == new
    assert backups.get(new).status == "running"
    with pytest.raises(BackupBusyError, match=f"already being backed up by run {new}"):
        backups.start("site")


def test_a_claim_on_another_host_with_a_live_lease_blocks_until_it_expires(
    backups: Backups, catalog: Catalog
) -> None:
    """Liveness works across hosts: a run elsewhere whose heartbeat is recent holds the
    target; when its lease runs out, it does not."""
    elsewhere = claims.Owner("db-2", "db-2|boot|pid:[9]", 1, 1000.0)
    _stuck_run(catalog, "20261201T000000Z-far003", 1, elsewhere)
    with catalog.begin() as session:
        claim = claims.get(session=session, key="backup:site")
        assert claim is not None
        claim.expires_at = claims.catalog_now(session) + dt.timedelta(seconds=30)
    assert backups.get("20261201T000000Z-far003").status == "running"
    with pytest.raises(BackupBusyError, match="on db-2"):
        backups.start("site")
    with catalog.begin() as session:
        claim = claims.get(session=session, key="backup:site")
        assert claim is not None
        claim.expires_at = claims.catalog_now(session) - dt.timedelta(seconds=1)
    assert backups.get("20261201T000000Z-far003").status == "incomplete"
    assert backups.start("site")


def test_racing_threads_start_exactly_one_run(backups: Backups, catalog: Catalog) -> None:
    """Sixteen threads start the same target at once: one run, fifteen BackupBusyError."""
    barrier = threading.Barrier(16)
    won: list[str] = []
    busy: list[str] = []
    other: list[BaseException] = []

    def race() -> None:
        barrier.wait()
        try:
            won.append(backups.start("site", trigger="api"))
        except BackupBusyError as exc:
            busy.append(str(exc))
        except BaseException as exc:  # reported below
            other.append(exc)

    threads = [threading.Thread(target=race) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert other == []
    assert (len(won), len(busy)) == (1, 15)
    assert [r.id for r in backups.runs("site")] == won


_RACER = """
import sys
from pathlib import Path
from buttress.backup.errors import BackupBusyError
from buttress.backup.service import Backups
from buttress.catalog import Catalog
from buttress.config import load

catalog = Catalog(sys.argv[2])
backups = Backups(load(Path(sys.argv[1])).backup, catalog)
print("ready", flush=True)
sys.stdin.readline()
try:
    print("won", backups.start("site"), flush=True)
except BackupBusyError:
    print("busy", flush=True)
"""


def test_racing_processes_start_exactly_one_run_on_sqlite(project: Path, tmp_path: Path) -> None:
    """Eight processes start the same target on one SQLite catalog at once: one run."""
    config = config_file(project, recipient(project))
    url = f"sqlite:///{tmp_path / 'race' / 'catalog.db'}"
    catalog = Catalog(url)
    catalog.upgrade()
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _RACER, config, url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(8)
    ]
    for p in procs:
        assert p.stdout is not None
        assert p.stdout.readline().strip() == "ready", p.stderr.read() if p.stderr else ""
    for p in procs:
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()
    answers = [p.communicate(timeout=120)[0].split() for p in procs]
    assert all(p.returncode == 0 for p in procs), answers
    assert sorted(a[0] for a in answers) == ["busy"] * 7 + ["won"]
    winner = next(a[1] for a in answers if a[0] == "won")
    backups = Backups(load(Path(config)).backup, catalog)
    assert [r.id for r in backups.runs("site")] == [winner]
    catalog.dispose()


def test_abandon_marks_a_dead_run_and_is_audited(backups: Backups, catalog: Catalog) -> None:
    """An incomplete run becomes abandoned, with who and why; the audit log has it."""
    _stuck_run(catalog, "20261201T000000Z-dead04", os.getpid(), None)
    view = backups.abandon("20261201T000000Z-dead04", actor="cli:ops", reason="container killed")
    assert view.status == "abandoned"
    assert view.error == "abandoned by cli:ops: container killed"
    assert view.detail["abandoned"]["was"] == "incomplete"
    with catalog.begin() as session:
        record = audit.get_all(session=session, action="backup.abandon")[0]
        assert (record.actor, record.outcome) == ("cli:ops", "success")
        assert record.target == "backup_id=20261201T000000Z-dead04"
        assert record.detail["reason"] == "container killed"
    with pytest.raises(UsageError, match="is abandoned: only a running or incomplete run"):
        backups.abandon("20261201T000000Z-dead04", actor="cli:ops")


def test_abandon_refuses_a_live_run_unless_forced(backups: Backups, catalog: Catalog) -> None:
    """A run whose claim is live is refused (audited as denied); with force it is abandoned,
    the target is free at once, and the run, when it ends, records nothing over it."""
    run_id = backups.start("site")
    with pytest.raises(BackupBusyError, match="is alive"):
        backups.abandon(run_id, actor="cli:ops")
    assert backups.get(run_id).status == "running"
    view = backups.abandon(run_id, actor="cli:ops", reason="hung", force=True)
    assert (view.status, view.detail["abandoned"]["forced"]) == ("abandoned", True)
    with catalog.begin() as session:
        outcomes = [r.outcome for r in audit.get_all(session=session, action="backup.abandon")]
    assert outcomes == ["success", "denied"]
    other = backups.start("site")  # the target is free
    with pytest.raises(BackupError, match="was abandoned while it ran"):
        backups.run("site", run_id)
    assert backups.get(run_id).status == "abandoned"
    assert backups.get(other).status == "running"  # its claim was not touched


def test_a_run_renews_its_claim_while_it_runs_and_releases_it_at_the_end(
    project: Path, catalog: Catalog, pg_database: str
) -> None:
    """While a run works (held here at its start: pg_dump waits for a table lock), its
    heartbeat moves on; when it ends, the target's claim is gone."""
    with psycopg.connect(pg_database, autocommit=True) as conn:
        conn.execute("CREATE TABLE t (i int)")
    config_file(
        project,
        recipient(project),
        f"    - {{name: pg, source: postgresql, dsn: '{pg_database}'}}\n",
    )
    backups = Backups(load(project / "buttress.yaml").backup, catalog)
    backups.heartbeat = 0.02
    holder = psycopg.connect(pg_database)
    holder.execute("LOCK TABLE t IN ACCESS EXCLUSIVE MODE")
    results: list[str] = []
    worker = threading.Thread(target=lambda: results.append(backups.run("pg").status))
    try:
        worker.start()
        wait_until(lambda: backups.running("pg") is not None, "the run to start")
        first = backups.running("pg")
        assert first is not None
        started_beat = first.heartbeat_at
        assert started_beat is not None

        def beaten() -> bool:
            now = backups.running("pg")
            return bool(now and now.heartbeat_at and now.heartbeat_at > started_beat)

        wait_until(beaten, "a heartbeat")
    finally:
        holder.rollback()
        holder.close()
        worker.join(120)
    assert results == ["succeeded"]
    with catalog.begin() as session:
        assert claims.get(session=session, key="backup:pg") is None


def test_a_run_that_ends_while_it_is_read_shows_how_it_ended(
    backups: Backups, catalog: Catalog
) -> None:
    """A run read as `running` whose claim is gone by the time the claims are read (it ended
    in between: status and claim change in one transaction) shows its end, not `incomplete`."""
    from sqlalchemy import select

    from buttress.backup import service

    run_id = backups.start("site")
    with catalog.begin() as session:
        rows = list(session.scalars(select(BackupRun).where(BackupRun.id == run_id)))
        assert rows[0].status == "running"
        backups._finish(run_id, status="succeeded")  # another process ends it meanwhile
        (view,) = service._views(session, rows)
    assert view.status == "succeeded"
