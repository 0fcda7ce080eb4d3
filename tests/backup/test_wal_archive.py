"""WAL archiving through a real PostgreSQL's ``archive_command``: every segment stored,
checked and indexed; the same segment twice is a no-op, other content under its name and a
second cluster are refused; a destination down makes PostgreSQL retry with no gap after it
returns; a damaged copy stops a fetch with exit 126 (recovery aborts) and names it."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import select

from buttress.backup.tables import WalSegment
from buttress.backup.wal import layout
from buttress.backup.wal.names import parse_name
from tests.backup.pg_cluster import Cluster, make_cluster, owned_dir
from tests.backup.wal_setup import WalSetup, wal_setup, write_config


def _segments(setup: WalSetup) -> list[WalSegment]:
    catalog = setup.catalog()
    try:
        with catalog.begin() as session:
            rows = session.scalars(
                select(WalSegment).where(WalSegment.target == "pg").order_by(WalSegment.name)
            ).all()
            session.expunge_all()
            return list(rows)
    finally:
        catalog.dispose()


def _stored(setup: WalSetup) -> list[Path]:
    return sorted(p for p in (setup.repo / "pg" / "wal").rglob("*-*") if p.is_file())


def test_archive_command_stores_and_indexes_every_segment(
    pg_database: str, pg_clusters: list[Cluster]
) -> None:
    setup = wal_setup(pg_database, pg_clusters)
    cluster = setup.cluster
    cluster.sql("CREATE TABLE t (id int)")
    names = []
    for _ in range(3):
        cluster.sql("INSERT INTO t SELECT generate_series(1, 1000)")
        names.append(cluster.switch_wal())
    cluster.wait_archived(names[-1])
    rows = {r.name: r for r in _segments(setup)}
    for name in names:
        assert name in rows, rows.keys()
        row = rows[name]
        assert (row.kind, row.destinations, row.mode) == ("segment", ["local"], "sync")
        assert row.raw_size == 16 << 20
        assert 0 < row.stored_size < row.raw_size
        assert row.ready_at <= row.archived_at
    # each is one object named with its checksum, beside the archive's identity
    info = setup.repo / "pg" / "wal" / "archive.json"
    assert (
        str(cluster.value("SELECT system_identifier FROM pg_control_system()")) in info.read_text()
    )
    keys = [str(p.relative_to(setup.repo)) for p in _stored(setup)]
    parsed = [layout.parse_key("pg", k) for k in keys]
    assert {p[0].name for p in parsed if p} >= set(names)
    # fetched back byte for byte (the segment is still in pg_wal until a checkpoint)
    out = setup.root / "fetched"
    fetched = setup.cli("wal", "fetch", "pg", names[-1], str(out))
    assert fetched.returncode == 0, fetched.stderr
    original = cluster.data / "pg_wal" / names[-1]
    if original.exists():
        assert out.read_bytes() == original.read_bytes()
    missing = setup.cli("wal", "fetch", "pg", "0000000100000000000000FF", str(out))
    assert missing.returncode == 1, missing.stderr
    assert "is not in target pg's WAL archive" in missing.stderr
    status = setup.cli("wal", "status", "pg")
    assert status.returncode == 0, status.stderr
    assert names[-1] in status.stdout


def test_same_segment_twice_succeeds_other_content_fails(
    pg_database: str, pg_clusters: list[Cluster]
) -> None:
    setup = wal_setup(pg_database, pg_clusters)
    name = setup.cluster.switch_wal()
    setup.cluster.wait_archived(name)
    copy = setup.root / name
    assert setup.cli("wal", "fetch", "pg", name, str(copy)).returncode == 0
    before = _stored(setup)
    again = setup.cli("wal", "push", "pg", str(copy))
    assert again.returncode == 0, again.stderr
    assert _stored(setup) == before
    data = bytearray(copy.read_bytes())
    data[8192 + 100] ^= 0xFF  # a byte past the header: still "a segment", other content
    copy.write_bytes(bytes(data))
    other = setup.cli("wal", "push", "pg", str(copy))
    assert other.returncode == 1
    assert f"{name} is already in target pg's archive" in other.stderr
    assert "other content" in other.stderr
    assert _stored(setup) == before


def test_a_second_cluster_pushing_into_the_target_is_refused(
    pg_database: str, pg_clusters: list[Cluster]
) -> None:
    setup = wal_setup(pg_database, pg_clusters)
    setup.cluster.wait_archived(setup.cluster.switch_wal())
    other = make_cluster(owned_dir("buttress-other-"))
    pg_clusters.append(other)
    stray = other.switch_wal()
    stray_path = other.data / "pg_wal" / stray
    digest = hashlib.sha256(stray_path.read_bytes()).hexdigest()
    refused = setup.cli("wal", "push", "pg", str(stray_path))
    assert refused.returncode == 1
    sysid = other.value("SELECT system_identifier FROM pg_control_system()")
    assert f"system identifier {sysid}" in refused.stderr
    assert "two servers archive into one target" in refused.stderr
    assert not any(p.name.endswith(digest) for p in _stored(setup))


def test_a_destination_down_is_retried_and_leaves_no_gap(
    pg_database: str, pg_clusters: list[Cluster]
) -> None:
    setup = wal_setup(pg_database, pg_clusters)
    cluster = setup.cluster
    first = cluster.switch_wal()
    cluster.wait_archived(first)
    wal_dir = setup.repo / "pg" / "wal"
    wal_dir.chmod(0o500)  # the postgres user can no longer write there: "down"
    folders = [p for p in wal_dir.iterdir() if p.is_dir()]
    for folder in folders:
        folder.chmod(0o500)
    try:
        cluster.sql("CREATE TABLE t AS SELECT generate_series(1, 10000) AS id")
        held = [cluster.switch_wal() for _ in range(2)]
        deadline = time.monotonic() + 30
        while cluster.value("SELECT failed_count FROM pg_stat_archiver") < 2:
            assert time.monotonic() < deadline, "PostgreSQL never retried"
            time.sleep(0.2)
        assert cluster.value("SELECT last_archived_wal FROM pg_stat_archiver") == first
    finally:
        for folder in [wal_dir, *folders]:
            folder.chmod(0o755)
    cluster.wait_archived(held[-1])
    archived = sorted(r.name for r in _segments(setup) if r.kind == "segment")
    numbers = [parse_name(n).segno for n in archived]
    assert numbers == list(range(numbers[0], numbers[-1] + 1)), archived  # no gap
    assert set(held) <= set(archived)


def test_a_damaged_copy_stops_fetch_with_the_object_named(
    pg_database: str, pg_clusters: list[Cluster]
) -> None:
    setup = wal_setup(pg_database, pg_clusters)
    name = setup.cluster.switch_wal()
    setup.cluster.wait_archived(name)
    (stored,) = [p for p in _stored(setup) if p.name.startswith(name)]
    data = bytearray(stored.read_bytes())
    data[len(data) // 2] ^= 0x01
    stored.write_bytes(bytes(data))
    out = setup.root / "out"
    fetched = setup.cli("wal", "fetch", "pg", name, str(out))
    assert fetched.returncode == 126, fetched.stderr
    assert stored.name in fetched.stderr
    assert "recovery stops" in fetched.stderr
    assert not out.exists()


def test_postgres_setup_prints_and_applies_the_settings(
    pg_database: str, pg_clusters: list[Cluster]
) -> None:
    root = owned_dir("buttress-setup-")
    cluster = make_cluster(root)
    pg_clusters.append(cluster)
    config, _repo = write_config(root, pg_database, cluster.dsn(), archive_timeout="10s")
    setup = WalSetup(root, config, root / "repo", cluster, pg_database)
    shown = setup.cli("backup", "postgres-setup", "pg")
    assert shown.returncode == 0, shown.stderr
    assert "archive_mode = 'on'" in shown.stdout
    assert f"--config {config} wal push pg %p" in shown.stdout
    assert "archive_timeout = '10s'" in shown.stdout
    assert cluster.value("SHOW archive_mode") == "off"  # printing changes nothing
    applied = setup.cli("backup", "postgres-setup", "pg", "--apply")
    assert applied.returncode == 0, applied.stderr
    assert "a restart of the server is needed for: archive_mode" in applied.stdout
    assert cluster.value("SHOW archive_timeout") == "10s"
    cluster.stop()
    cluster.start()
    assert "wal push pg %p" in cluster.value("SHOW archive_command")
    again = setup.cli("backup", "postgres-setup", "pg")
    assert again.returncode == 0, again.stderr
    assert "change" not in again.stdout
    assert "in postgresql.conf" not in again.stdout


def test_postgres_setup_refuses_a_target_without_wal(tmp_path: Path) -> None:
    config = tmp_path / "buttress.yaml"
    config.write_text(
        "backup:\n  recipients: [age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p]\n"
        "  destinations: [{name: here, path: /tmp/none}]\n"
        "  targets: [{name: db, source: postgresql, dsn: 'postgresql://u:s3cret@127.0.0.1/x'}]\n"
    )
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "buttress",
            "--config",
            str(config),
            "backup",
            "postgres-setup",
            "db",
        ],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 2
    assert "target db does not archive WAL: give it `kind: physical`" in run.stderr
    assert "s3cret" not in run.stderr


def test_fetch_needs_no_catalog_and_creates_no_key(
    pg_database: str, pg_clusters: list[Cluster]
) -> None:
    """After a disaster the catalog may be gone with the database: restore_command reads
    only the repository (and never makes a new manifest key)."""
    setup = wal_setup(pg_database, pg_clusters)
    name = setup.cluster.switch_wal()
    setup.cluster.wait_archived(name)
    text = setup.config.read_text().replace(pg_database, "postgresql://nobody@127.0.0.1:1/gone")
    setup.config.write_text(text)
    out = setup.root / "out"
    fetched = setup.cli("wal", "fetch", "pg", name, str(out))
    assert fetched.returncode == 0, fetched.stderr
    assert out.stat().st_size == 16 << 20
    key = setup.root / "manifest.key"
    key.unlink()
    again = setup.cli("wal", "fetch", "pg", name, str(out))
    assert again.returncode == 0, again.stderr
    assert not key.exists()
