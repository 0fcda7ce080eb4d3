"""``buttress wal status`` on a real archive: a primary archiving through ``wal push``, a
standby cloned from it and promoted (timeline 2, its history file archived): the window
follows the promotion, read from the archived ``00000002.history``."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from pathlib import Path

from sqlalchemy import delete

from buttress.backup.tables import BackupRun, WalSegment
from buttress.backup.wal.names import parse_lsn, segment_name, segment_of
from buttress.backup.wal.service import Wal
from buttress.backup.wal.status import HistoryCache, status_of
from buttress.config import PostgresqlTargetConfig, load
from tests.backup.pg_cluster import AS_PG, Cluster, owned_dir, pg_env
from tests.backup.wal_setup import wal_setup
from tests.conftest import free_port, wait_until


def _clone(primary: Cluster) -> tuple[Cluster, dict[str, str]]:
    """A streaming standby of ``primary`` (pg_basebackup -R), and its WAL range (the
    backup's start and end LSN, from backup_manifest)."""
    root = owned_dir("buttress-standby-")
    (root / "sock").mkdir()
    subprocess.run(["chown", "postgres:postgres", str(root / "sock")], check=True)
    standby = Cluster(root, root / "data", free_port(), primary.bin)
    subprocess.run(
        [*AS_PG, str(primary.bin / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(primary.port),
         "-U", "postgres", "-D", str(standby.data), "-R", "-X", "stream", "-c", "fast"],
        check=True, capture_output=True, text=True, env=pg_env(),
    )  # fmt: skip
    manifest = json.loads((standby.data / "backup_manifest").read_text())
    [wal_range] = manifest["WAL-Ranges"]
    return standby, {"start": wal_range["Start-LSN"], "end": wal_range["End-LSN"]}


def test_status_follows_a_promotion_onto_timeline_2(
    pg_database: str, pg_clusters: list[Cluster]
) -> None:
    """After the standby's promotion the window reaches timeline 2's newest segment, with no
    gap, from a base backup taken on timeline 1; `wal status` prints it."""
    setup = wal_setup(pg_database, pg_clusters)
    primary = setup.cluster
    primary.sql("CREATE TABLE t (n int)")
    standby, lsns = _clone(primary)
    pg_clusters.append(standby)
    stopped = dt.datetime.now(dt.UTC)
    physical = {
        "timeline": 1,
        "start_wal": segment_name(1, segment_of(parse_lsn(lsns["start"]))),
        "stop_wal": segment_name(1, segment_of(parse_lsn(lsns["end"]))),
        "stop_time": stopped.isoformat(),
    }
    catalog = setup.catalog()
    try:
        with catalog.begin() as session:
            session.add(
                BackupRun(
                    id="base1",
                    target="pg",
                    status="succeeded",
                    started_at=stopped,
                    finished_at=stopped,
                    detail={"physical": physical},
                )
            )
        standby.start()
        primary.sql("INSERT INTO t SELECT generate_series(1, 1000)")
        primary.wait_archived(primary.switch_wal())
        primary.stop()
        standby.pg_ctl("-w", "promote")
        wait_until(lambda: standby.value("SELECT pg_is_in_recovery()") is False, "promotion", 60)
        standby.sql("INSERT INTO t SELECT generate_series(1, 1000)")
        last = standby.switch_wal()
        assert last.startswith("00000002")
        standby.wait_archived(last)

        config = load(setup.config).backup
        target = next(t for t in config.targets if t.name == "pg")
        assert isinstance(target, PostgresqlTargetConfig)
        s = status_of(target, catalog, histories=HistoryCache(Wal(config, catalog)).reader("pg"))
        assert s.problems == []
        assert s.history_files == 1
        assert s.backups[0].timelines == [1, 2]
        assert s.backups[0].whole
        assert s.backups[0].contiguous_to == last
        assert s.gaps == []
        assert s.state == "ok"
        assert s.window.oldest == stopped
        assert s.newest is not None
        assert s.newest.name == last
        assert s.window.newest == s.newest.ready_at
        unread = status_of(target, catalog)  # without the history: timeline 2 not followed
        assert unread.backups[0].timelines == [1]
        assert unread.window.newest is not None
        assert s.newest.ready_at is not None
        assert unread.window.newest < s.newest.ready_at
    finally:
        catalog.dispose()
    shown = setup.cli("wal", "status", "pg")
    assert shown.returncode == 0, shown.stderr
    assert f"pg: recoverable {stopped.isoformat(timespec='seconds')} -> " in shown.stdout
    assert "WAL gap" not in shown.stdout
    as_json = setup.cli("wal", "status", "pg", "--json")
    assert as_json.returncode == 0, as_json.stderr
    [answer] = json.loads(as_json.stdout)
    assert answer["backups"][0]["contiguous_to"] == last
    assert answer["window"]["spans"][0]["backups"] == ["base1"]


def test_status_names_a_gap_in_a_real_archive(pg_database: str, pg_clusters: list[Cluster]) -> None:
    """A segment removed from the archive and the catalog (as by a mistaken cleanup): `wal
    status` names it as a gap and exits 0."""
    setup = wal_setup(pg_database, pg_clusters)
    cluster = setup.cluster
    cluster.sql("CREATE TABLE t (n int)")
    names = []
    for _ in range(4):
        cluster.sql("INSERT INTO t SELECT generate_series(1, 1000)")
        names.append(cluster.switch_wal())
    cluster.wait_archived(names[-1])
    now = dt.datetime.now(dt.UTC)
    catalog = setup.catalog()
    try:
        with catalog.begin() as session:
            session.add(
                BackupRun(
                    id="base1",
                    target="pg",
                    status="succeeded",
                    started_at=now,
                    finished_at=now,
                    detail={
                        "physical": {
                            "timeline": 1,
                            "start_wal": names[0],
                            "stop_wal": names[0],
                            "stop_time": now.isoformat(),
                        }
                    },
                )
            )
            session.execute(
                delete(WalSegment).where(WalSegment.target == "pg", WalSegment.name == names[2])
            )
    finally:
        catalog.dispose()
    for stored in Path(setup.repo).rglob(f"{names[2]}-*"):
        stored.unlink()
    shown = setup.cli("wal", "status", "pg")
    assert shown.returncode == 0, shown.stderr
    assert f"pg: WAL gap: {names[2]} missing" in shown.stdout
