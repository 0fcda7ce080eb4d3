"""`buttress backup restore TARGET --to DIR` of a physical PostgreSQL target: to the end of a
base backup (--immediate) and to a time through the WAL archive (`wal push`/`wal fetch`),
into a new data directory, started and checked; refusals (a directory that is not empty or
that a server runs in, a time before the oldest base backup) before anything is written."""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from pathlib import Path

import psycopg

from buttress.backup.wal.names import parse_name
from tests.backup.pg_cluster import Cluster, owned_dir
from tests.backup.wal_setup import WalSetup, wal_setup


def _setup(pg_database: str, pg_clusters: list[Cluster]) -> WalSetup:
    """An archiving cluster whose first segment is archived: the postgres user's `wal push`
    made the manifest key, so that root's `backup run` uses that one (a key root made would
    be closed to postgres)."""
    setup = wal_setup(pg_database, pg_clusters)
    setup.cluster.wait_archived(setup.cluster.switch_wal())
    return setup


def _base_backup(setup: WalSetup) -> dict[str, object]:
    run = setup.cli("backup", "run", "pg", "--json")
    assert run.returncode == 0, run.stderr
    view: dict[str, object] = json.loads(run.stdout)
    return view


def _port(out: str) -> int:
    found = re.search(r"runs on port (\d+)", out)
    assert found, out
    return int(found.group(1))


def _value(port: int, query: str) -> object:
    dsn = f"postgresql://postgres@127.0.0.1:{port}/postgres"
    with psycopg.connect(dsn, autocommit=True, connect_timeout=10) as conn:
        row = conn.execute(query).fetchone()
        assert row is not None
        return row[0]


def _stop(datadir: Path, cluster: Cluster) -> None:
    restored = Cluster(datadir.parent, datadir, 0, cluster.bin)
    restored.stop("immediate")


def test_restore_immediate_gives_the_backed_up_cluster(
    pg_database: str, pg_clusters: list[Cluster]
) -> None:
    """--immediate restores the base backup into a new directory, started on its own port:
    the pgbench rows and the system identifier are the source's; the run recorded where the
    backup starts and ends."""
    setup = _setup(pg_database, pg_clusters)
    cluster = setup.cluster
    cluster.pgbench("-i", "-s", "1", "-q")
    counts = {
        t: cluster.value(f"SELECT count(*) FROM {t}")  # noqa: S608  # fixed names
        for t in ("pgbench_accounts", "pgbench_branches", "pgbench_tellers")
    }
    view = _base_backup(setup)
    physical = view["detail"]["physical"]  # type: ignore[index]
    assert physical["system_identifier"] == str(
        cluster.value("SELECT system_identifier FROM pg_control_system()")
    )
    place = owned_dir("buttress-restored-")
    datadir = place / "data"
    try:
        done = setup.cli("backup", "restore", "pg", "--to", str(datadir), "--immediate")
        assert done.returncode == 0, done.stderr
        assert "recovery stopping after reaching consistency" in done.stdout
        port = _port(done.stdout)
        assert port != cluster.port
        for table, count in counts.items():
            assert _value(port, f"SELECT count(*) FROM {table}") == count  # noqa: S608
        assert (
            str(_value(port, "SELECT system_identifier FROM pg_control_system()"))
            == (physical["system_identifier"])
        )
        assert _value(port, "SELECT pg_is_in_recovery()") is False  # promoted
        assert (datadir.stat().st_mode & 0o777) == 0o700
        assert datadir.owner() == "postgres"
        assert not (datadir / "standby.signal").exists()
        assert "archive_mode = 'off'" in (datadir / "postgresql.auto.conf").read_text()
    finally:
        _stop(datadir, cluster)
        shutil.rmtree(place, ignore_errors=True)


def test_restore_to_a_time_gives_exactly_the_rows_committed_by_then(
    pg_database: str, pg_clusters: list[Cluster]
) -> None:
    """Base backup, rows committed before t1, more after it, WAL archived with `wal push`:
    a restore to t1 replays the archive (`wal fetch`) and holds exactly the rows of t1; so do
    restores to the restore point and the LSN made at t1."""
    setup = _setup(pg_database, pg_clusters)
    cluster = setup.cluster
    cluster.sql("CREATE TABLE t (id int, at timestamptz DEFAULT clock_timestamp())")
    _base_backup(setup)
    cluster.sql("INSERT INTO t (id) SELECT generate_series(1, 500)")
    t1 = cluster.value("SELECT clock_timestamp()")
    lsn = cluster.value("SELECT pg_create_restore_point('p1')::text")
    cluster.sql("INSERT INTO t (id) SELECT generate_series(501, 800)")
    cluster.wait_archived(cluster.switch_wal())
    place = owned_dir("buttress-restored-")
    datadir = place / "data"
    for how, value in (("--target-name", "p1"), ("--target-lsn", lsn)):
        other = place / how.removeprefix("--target-")
        try:
            done = setup.cli("backup", "restore", "pg", "--to", str(other), how, value)
            assert done.returncode == 0, done.stderr + done.stdout
            assert _value(_port(done.stdout), "SELECT count(*) FROM t") == 500, how
        finally:
            _stop(other, cluster)
    try:
        done = setup.cli(
            "backup", "restore", "pg", "--to", str(datadir), "--target-time", t1.isoformat()
        )
        assert done.returncode == 0, done.stderr + done.stdout
        assert "recovery stopping before commit of transaction" in done.stdout
        assert "last replayed transaction at" in done.stdout
        port = _port(done.stdout)
        assert _value(port, "SELECT count(*) FROM t") == 500
        assert _value(port, "SELECT max(id) FROM t") == 500
    finally:
        _stop(datadir, cluster)
        shutil.rmtree(place, ignore_errors=True)


def test_a_target_time_before_the_oldest_base_backup_is_refused(
    pg_database: str, pg_clusters: list[Cluster]
) -> None:
    """A time before the end of the oldest base backup is refused before anything is read or
    written, and the recoverable window is shown."""
    setup = _setup(pg_database, pg_clusters)
    early = setup.cluster.value("SELECT clock_timestamp()")
    view = _base_backup(setup)
    place = owned_dir("buttress-restored-")
    datadir = place / "data"
    try:
        refused = setup.cli(
            "backup", "restore", "pg", "--to", str(datadir), "--target-time", early.isoformat()
        )
        assert refused.returncode != 0
        assert "is before the end of the oldest base backup" in refused.stderr
        assert "recoverable window is from" in refused.stderr
        assert str(view["id"]) in refused.stderr
        assert not datadir.exists()
    finally:
        shutil.rmtree(place, ignore_errors=True)


def test_a_target_time_after_the_newest_archived_wal_is_refused(
    pg_database: str, pg_clusters: list[Cluster]
) -> None:
    """A time later than the newest segment archived without a break cannot be reached:
    refused before anything is written, with the window."""
    setup = _setup(pg_database, pg_clusters)
    _base_backup(setup)
    setup.cluster.wait_archived(setup.cluster.switch_wal())
    late = setup.cluster.value("SELECT clock_timestamp() + interval '1 hour'")
    place = owned_dir("buttress-restored-")
    datadir = place / "data"
    try:
        refused = setup.cli(
            "backup", "restore", "pg", "--to", str(datadir), "--target-time", late.isoformat()
        )
        assert refused.returncode == 2, refused.stderr
        assert "is after the newest archived WAL of target pg" in refused.stderr
        assert "the recoverable window is 20" in refused.stderr
        assert not datadir.exists()
    finally:
        shutil.rmtree(place, ignore_errors=True)


def test_a_directory_that_is_not_empty_or_in_use_is_refused(
    pg_database: str, pg_clusters: list[Cluster]
) -> None:
    """A restore into a directory holding anything, or the data directory of a running
    server, is refused and nothing is written there."""
    setup = _setup(pg_database, pg_clusters)
    _base_backup(setup)
    place = owned_dir("buttress-restored-")
    try:
        (place / "notes.txt").write_text("mine\n")
        refused = setup.cli("backup", "restore", "pg", "--to", str(place), "--immediate")
        assert refused.returncode != 0
        assert f"{place} is not empty (notes.txt)" in refused.stderr
        assert "nothing was written" in refused.stderr
        assert sorted(p.name for p in place.iterdir()) == ["notes.txt"]
        data = setup.cluster.data
        before = sorted(p.name for p in data.iterdir())
        live = setup.cli("backup", "restore", "pg", "--to", str(data), "--immediate")
        assert live.returncode != 0
        assert "a running PostgreSQL server uses it" in live.stderr
        assert sorted(p.name for p in data.iterdir()) == before
    finally:
        shutil.rmtree(place, ignore_errors=True)


def test_a_target_never_reached_fails_clearly(pg_database: str, pg_clusters: list[Cluster]) -> None:
    """A target past the archived WAL (a transaction id never reached) fails with the
    server's own words; the server is stopped and the directory left for inspection."""
    setup = _setup(pg_database, pg_clusters)
    _base_backup(setup)
    place = owned_dir("buttress-restored-")
    datadir = place / "data"
    try:
        failed = setup.cli(
            "backup", "restore", "pg", "--to", str(datadir), "--target-xid", "4000000000"
        )
        assert failed.returncode != 0
        assert "recovery ended before configured recovery target was reached" in failed.stderr
        assert "left for inspection" in failed.stderr
        assert not (datadir / "postmaster.pid").exists()
    finally:
        _stop(datadir, setup.cluster)
        shutil.rmtree(place, ignore_errors=True)


def test_pause_no_start_and_the_restore_test_of_a_base_backup(
    pg_database: str, pg_clusters: list[Cluster]
) -> None:
    """--target-action pause leaves the server read-only in recovery, shutdown stops it at
    the target; --no-start writes the recovery settings and starts nothing; `verify
    --restore-test` of the base passes."""
    setup = _setup(pg_database, pg_clusters)
    setup.cluster.sql("CREATE TABLE t AS SELECT generate_series(1, 100) AS id")
    view = _base_backup(setup)
    place = owned_dir("buttress-restored-")
    paused, idle = place / "paused", place / "idle"
    try:
        done = setup.cli(
            "backup", "restore", "pg", "--to", str(paused), "--immediate",
            "--target-action", "pause",
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        port = int(re.search(r"read-only, on port (\d+)", done.stdout).group(1))  # type: ignore[union-attr]
        assert _value(port, "SELECT pg_is_in_recovery()") is True
        assert _value(port, "SELECT pg_get_wal_replay_pause_state()") == "paused"
        assert _value(port, "SELECT count(*) FROM t") == 100
        quiet = setup.cli(
            "backup", "restore", str(view["id"]), "--to", str(idle), "--immediate",
            "--no-start", "--port", "5999",
        )  # fmt: skip
        assert quiet.returncode == 0, quiet.stderr
        assert "not started (--no-start)" in quiet.stdout
        assert (idle / "recovery.signal").exists()
        assert "port = '5999'" in (idle / "postgresql.auto.conf").read_text()
        assert not (idle / "postmaster.pid").exists()
        down = place / "down"
        stopped = setup.cli(
            "backup", "restore", "pg", "--to", str(down), "--immediate",
            "--target-action", "shutdown",
        )  # fmt: skip
        assert stopped.returncode == 0, stopped.stderr
        assert "shut down at the target" in stopped.stdout
        assert "shutdown at recovery target" in (down / "buttress-restore.log").read_text()
        assert not (down / "postmaster.pid").exists()
    finally:
        _stop(paused, setup.cluster)
        shutil.rmtree(place, ignore_errors=True)
    checked = setup.cli("backup", "verify", str(view["id"]), "--restore-test", "--json")
    assert checked.returncode == 0, checked.stderr
    result = json.loads(checked.stdout)
    assert result["restore_test"]["ok"] is True
    assert {c["what"] for c in result["restore_test"]["compared"]} == {
        "databases", "files", "pg_version", "system_identifier",
    }  # fmt: skip


def test_a_restore_across_a_damaged_segment_stops_and_names_it(
    pg_database: str, pg_clusters: list[Cluster]
) -> None:
    """A WAL segment damaged in storage after the base backup: `wal fetch` refuses it, so
    recovery stops there (not early, silently) and the error names the object."""
    setup = _setup(pg_database, pg_clusters)
    cluster = setup.cluster
    cluster.sql("CREATE TABLE t (id int)")
    _base_backup(setup)
    cluster.sql("INSERT INTO t SELECT generate_series(1, 100)")
    t1 = cluster.value("SELECT clock_timestamp()")
    cluster.sql("INSERT INTO t SELECT generate_series(101, 200)")
    segment = cluster.switch_wal()
    cluster.wait_archived(segment)
    (stored,) = (setup.repo / "pg" / "wal").rglob(f"{segment}-*")
    data = bytearray(stored.read_bytes())
    data[len(data) // 2] ^= 0x01
    stored.write_bytes(bytes(data))
    place = owned_dir("buttress-restored-")
    datadir = place / "data"
    try:
        failed = setup.cli(
            "backup", "restore", "pg", "--to", str(datadir), "--target-time", t1.isoformat()
        )
        assert failed.returncode != 0
        assert f'could not restore file "{segment}" from archive' in failed.stderr
        assert stored.name in failed.stderr  # what `wal fetch` said, quoted
        assert "left for inspection" in failed.stderr
    finally:
        _stop(datadir, cluster)
        shutil.rmtree(place, ignore_errors=True)


def test_a_pitr_test_restores_to_a_fresh_restore_point_and_records_it(
    pg_database: str, pg_clusters: list[Cluster]
) -> None:
    """`backup pitr-test` creates a restore point now, restores the newest base backup to it
    through the archive in a scratch cluster, checks it, records it; a damaged segment the
    replay needs makes it fail, named."""
    setup = _setup(pg_database, pg_clusters)
    setup.cluster.sql("CREATE TABLE t AS SELECT generate_series(1, 1000) AS id")
    view = _base_backup(setup)
    setup.cluster.sql("INSERT INTO t SELECT generate_series(1, 1000)")
    setup.cluster.wait_archived(setup.cluster.switch_wal())
    done = setup.cli("backup", "pitr-test", "pg", "--json")
    assert done.returncode == 0, done.stderr + done.stdout
    result = json.loads(done.stdout)
    assert (result["ok"], result["pitr"], result["backup_id"]) == (True, True, view["id"])
    assert result["point"].startswith("buttress-pitr-test-")
    assert f'restore point "{result["point"]}"' in result["reached"]
    assert set(result["phases"]) == {"archive", "restore_and_replay", "checks"}
    shown = setup.cli("backup", "show", str(view["id"]), "--json")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["restore_test_status"] == "ok"
    assert not list(Path(tempfile.gettempdir()).glob("buttress-pitr-test-*/data"))
    # the segment after the base backup, damaged in the archive: the replay stops there
    physical = view["detail"]["physical"]  # type: ignore[index]
    after = parse_name(str(physical["stop_wal"])).next().name
    (stored,) = list((setup.repo / "pg" / "wal").rglob(f"{after}-*"))
    data = bytearray(stored.read_bytes())
    data[len(data) // 2] ^= 0x01
    stored.write_bytes(bytes(data))
    failed = setup.cli("backup", "pitr-test", "pg")
    assert failed.returncode == 1, failed.stderr + failed.stdout
    assert "FAILED" in failed.stdout
    assert stored.name in failed.stderr
    shown = setup.cli("backup", "show", str(view["id"]), "--json")
    assert json.loads(shown.stdout)["restore_test_status"] == "failed"
