"""A restore test through the archive: restore a physical target to a point made just now,
in a scratch cluster, and check that recovery reached it (``buttress backup pitr-test``).

A restore test of a base backup (``verify --restore-test``) proves the base restores; it reads
no archived WAL. This proves the rest of a point-in-time recovery, end to end, as a restore
after a disaster would run it: on the source, a restore point is created
(``pg_create_restore_point``, which needs a superuser or the grant) and its segment switched and
archived; the newest base backup is restored into a scratch data directory with
``recovery_target_name`` set to it, its WAL fetched from the archive by ``wal fetch``; the server
must say it stopped at that restore point, have replayed past its LSN, and have the source's
system identifier and databases. Then it is stopped and removed. The result is the backup's
restore test in the catalog (``detail.restore_test``, with ``pitr: true``) and a
``BackupVerified`` event, timed by phase.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from buttress.backup.errors import BackupError
from buttress.backup.events import BackupVerified
from buttress.backup.tables import BackupRun, WalSegment
from buttress.backup.wal import postmaster
from buttress.backup.wal.names import parse_lsn
from buttress.backup.wal.recovery import RecoveryTarget
from buttress.backup.wal.setup import connect
from buttress.catalog.tables import utcnow
from buttress.errors import UsageError
from buttress.events import emit
from buttress.secrets import mask_dsn, redact

if TYPE_CHECKING:
    import psycopg

    from buttress.backup.service import Backups

__all__ = ["PitrTest", "pitr_test"]


@dataclass
class PitrTest:
    ok: bool
    target: str
    backup_id: str
    point: str  # the restore point's name
    point_lsn: str
    reached: str = ""
    seconds: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def record(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "pitr": True,
            "seconds": self.seconds,
            "phases": self.phases,
            "point": self.point,
            "point_lsn": self.point_lsn,
            "reached": self.reached,
            "problems": self.problems,
        }


def _facts(conn: psycopg.Connection[tuple[Any, ...]]) -> tuple[str, list[str]]:
    sysid = conn.execute("SELECT system_identifier FROM pg_control_system()").fetchone()
    names = conn.execute(
        "SELECT datname FROM pg_database WHERE datallowconn ORDER BY datname"
    ).fetchall()
    return str(sysid[0] if sysid else ""), [str(n[0]) for n in names]


def _wait_archived(backups: Backups, target: str, segment: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        with backups.catalog.begin() as session:
            found = session.scalar(
                select(WalSegment.name)
                .where(
                    WalSegment.target == target,
                    WalSegment.name >= segment,
                    WalSegment.kind == "segment",
                )
                .limit(1)
            )
        if found is not None:
            return
        if time.monotonic() > deadline:
            raise BackupError(
                f"target {target}: segment {segment} (holding the test's restore point) was not "
                f"archived within {timeout:.0f}s; is archive_command set (`buttress backup "
                f"postgres-setup {target}`), and the pusher running in async mode?"
            )
        time.sleep(0.2)


def pitr_test(
    backups: Backups,
    target_name: str,
    restore_command: str,
    *,
    identity: Sequence[Path] = (),
    archive_timeout: float = 120.0,
) -> PitrTest:
    """Run the test (see the module's docstring) and record it; never raises for a test that
    fails (its problems say why), only for one that cannot start (UsageError, BackupError)."""
    from buttress.backup.physical_restore import _bases, is_physical, restore_to_point

    target = backups.target(target_name)
    if not is_physical(target) or getattr(target, "wal", None) is None:
        raise UsageError(
            f"target {target_name}: a PITR test restores through the archived WAL: it needs "
            "`kind: physical` and `wal:`"
        )
    bases = sorted(_bases(backups, target_name), key=lambda b: b.stop_time)
    if not bases:
        raise UsageError(f"target {target_name} has no good base backup to test")
    base = bases[-1]
    dsn: str = target.dsn  # type: ignore[attr-defined]  # a postgresql target
    started = time.perf_counter()
    phases: dict[str, float] = {}
    point = f"buttress-pitr-test-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}"
    import psycopg

    with connect(dsn) as conn:
        try:
            row = conn.execute("SELECT pg_create_restore_point(%s)::text", (point,)).fetchone()
            lsn_text = str(row[0]) if row else ""
            segment = conn.execute("SELECT pg_walfile_name(%s::pg_lsn)", (lsn_text,)).fetchone()
            conn.execute("SELECT pg_switch_wal()")
        except psycopg.Error as exc:  # privileges, a standby
            raise BackupError(
                f"target {target_name}: cannot create a restore point on {mask_dsn(dsn)}: "
                f"{redact(str(exc)).strip()} (pg_create_restore_point needs a superuser, or "
                "GRANT EXECUTE ON FUNCTION pg_create_restore_point TO the backup role)"
            ) from None
        sysid, databases = _facts(conn)
    segment_name = str(segment[0]) if segment else ""
    result = PitrTest(False, target_name, base.id, point, lsn_text)
    t = time.perf_counter()
    _wait_archived(backups, target_name, segment_name, archive_timeout)
    phases["archive"] = round(time.perf_counter() - t, 3)
    scratch = Path(tempfile.mkdtemp(prefix="buttress-pitr-test-"))
    scratch.chmod(0o711)  # the postgres OS user must reach the data directory inside
    datadir = scratch / "data"
    server: postmaster.Server | None = None
    try:
        t = time.perf_counter()
        done = restore_to_point(
            backups,
            target_name,
            datadir,
            RecoveryTarget.choose(name=point, action="promote"),
            restore_command=restore_command,
            backup_id=base.id,
            identity=identity,
        )
        phases["restore_and_replay"] = round(time.perf_counter() - t, 3)
        server = postmaster.Server(
            datadir, postmaster.server_bin(getattr(target, "bin_dir", None)), {}
        )
        outcome = done.outcome
        result.reached = outcome.reached() if outcome is not None else ""
        if outcome is None or f'restore point "{point}"' not in outcome.stopping:
            result.problems.append(
                f"recovery did not say it stopped at restore point {point}: "
                f"{outcome.stopping if outcome else 'not started'}"
            )
        t = time.perf_counter()
        with connect(dsn, host="127.0.0.1", port=done.port) as restored:
            got_sysid, got_databases = _facts(restored)
            row = restored.execute("SELECT pg_last_wal_replay_lsn()::text").fetchone()
        phases["checks"] = round(time.perf_counter() - t, 3)
        if got_sysid != sysid:
            result.problems.append(f"system identifier {got_sysid}, the source's is {sysid}")
        if got_databases != databases:
            result.problems.append(f"databases {got_databases}, the source has {databases}")
        replayed = str(row[0]) if row and row[0] else ""
        if not replayed or parse_lsn(replayed) < parse_lsn(lsn_text):
            result.problems.append(
                f"replayed to {replayed or 'nothing'}, before the restore point's {lsn_text}"
            )
    except BackupError as exc:
        result.problems.append(str(exc))
    finally:
        if server is not None:
            with contextlib.suppress(Exception):
                server.stop("immediate")
        shutil.rmtree(scratch, ignore_errors=True)
    result.ok = not result.problems
    result.seconds = round(time.perf_counter() - started, 3)
    result.phases = phases
    with backups.catalog.begin() as session:
        run = session.get(BackupRun, base.id)
        if run is not None:
            run.restore_test_status = "ok" if result.ok else "failed"
            run.restore_tested_at = utcnow()
            run.detail = {**(run.detail or {}), "restore_test": result.record()}
    emit(BackupVerified(target_name, base.id, result.ok, True, tuple(result.problems)))
    return result
