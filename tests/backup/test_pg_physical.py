"""Physical base backups (`kind: physical`): pg_basebackup's tar streamed through the pipeline,
the facts read from it as it passes (LSNs, WAL, timeline, system identifier, databases), stock
tools giving the data directory back, restore tests that pass and that catch a damaged object,
and no password in what a failure says."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from buttress.backup.destinations import LocalDestination
from buttress.backup.engine import restore_test, take_backup
from buttress.backup.errors import BackupError
from buttress.backup.pipeline import Settings
from buttress.backup.sources.pg_physical import PhysicalPostgresSource
from buttress.backup.wal.names import parse_lsn
from tests.backup.conftest import Keys
from tests.backup.pg_cluster import Cluster, chown_tree, make_cluster, owned_dir


@pytest.fixture
def cluster(pg_clusters: list[Cluster]) -> Cluster:
    """A private cluster holding pgbench's tables."""
    made = make_cluster(owned_dir("buttress-physical-"))
    pg_clusters.append(made)
    made.pgbench("-i", "-s", "1", "-q")
    return made


def test_base_backup_records_where_it_starts_and_ends(
    cluster: Cluster, keys: Keys, settings: Settings, repo: LocalDestination
) -> None:
    """The manifest's metadata["physical"] holds the backup's LSNs, WAL segments, timeline,
    times and the cluster's identity, as the server and its backup_label say."""
    before = parse_lsn(cluster.value("SELECT pg_current_wal_lsn()::text"))
    manifest = take_backup(PhysicalPostgresSource(cluster.dsn()), "pg", [repo], settings).manifest
    after = parse_lsn(cluster.value("SELECT pg_current_wal_lsn()::text"))
    physical = manifest.metadata["physical"]
    start, stop = parse_lsn(physical["start_lsn"]), parse_lsn(physical["stop_lsn"])
    assert before <= start < stop <= after
    assert physical["timeline"] == 1
    assert physical["start_wal"] == cluster.value(
        "SELECT pg_walfile_name(%s::pg_lsn)", [physical["start_lsn"]]
    )
    assert physical["system_identifier"] == str(
        cluster.value("SELECT system_identifier FROM pg_control_system()")
    )
    assert physical["segment_size"] == 16 << 20
    assert physical["start_time"] <= physical["stop_time"]
    assert physical["pg_version"] == cluster.value("SHOW server_version").split(".")[0]
    assert physical["databases"]["postgres"] == cluster.value(
        "SELECT oid FROM pg_database WHERE datname = 'postgres'"
    )
    assert [a.name for a in manifest.artifacts] == ["base"]
    assert manifest.metadata["files"] > 100
    assert manifest.source["backup"] == "physical"


def test_stock_tools_give_the_data_directory_back(
    cluster: Cluster, keys: Keys, settings: Settings, repo: LocalDestination, tmp_path: Path
) -> None:
    """`cat base.* | age -d -i key | zstd -d | tar -x` gives a data directory holding the
    backup_label and the WAL the backup needs, without buttress."""
    manifest = take_backup(PhysicalPostgresSource(cluster.dsn()), "pg", [repo], settings).manifest
    folder = repo.root / "pg" / manifest.backup_id
    out = tmp_path / "data"
    out.mkdir()
    script = f"cat {folder}/base.* | age -d -i {keys.path} | zstd -d -q | tar -x -C {out}"
    subprocess.run(["bash", "-o", "pipefail", "-c", script], check=True, capture_output=True)
    physical = manifest.metadata["physical"]
    assert (out / "PG_VERSION").read_text().strip() == physical["pg_version"]
    assert physical["start_lsn"] in (out / "backup_label").read_text()
    assert (out / "pg_wal" / physical["start_wal"]).stat().st_size == 16 << 20
    assert (out / "backup_manifest").exists()


def test_restore_test_passes_and_a_damaged_object_fails_it(
    cluster: Cluster, keys: Keys, settings: Settings, repo: LocalDestination
) -> None:
    """A restore test starts the base in a scratch cluster to its end and finds the recorded
    identity, databases and files; a damaged object fails it, named."""
    source = PhysicalPostgresSource(cluster.dsn())
    manifest = take_backup(source, "pg", [repo], settings).manifest
    tested = restore_test(manifest, PhysicalPostgresSource(cluster.dsn()), [repo], keys.identities)
    assert tested.ok, tested.problems
    assert {c["what"] for c in tested.compared} == {
        "databases", "files", "pg_version", "system_identifier",
    }  # fmt: skip
    assert all(c["differences"] == 0 for c in tested.compared)
    assert not list(Path("/tmp").glob("buttress-pitr-test-*")), "the scratch folder stays"
    obj = manifest.artifacts[0].objects[-1]
    path = repo.root / obj.key
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    damaged = restore_test(manifest, PhysicalPostgresSource(cluster.dsn()), [repo], keys.identities)
    assert not damaged.ok
    assert obj.key in " ".join(damaged.problems)


def test_a_failing_pg_basebackup_shows_no_password(
    pg_clusters: list[Cluster], settings: Settings, repo: LocalDestination
) -> None:
    """pg_basebackup refused (no WAL sender allowed): the error says why, never the DSN's
    password, and no manifest is written."""
    made = make_cluster(owned_dir("buttress-physical-"), max_wal_senders=0)
    pg_clusters.append(made)
    dsn = f"postgresql://postgres:pw-Secret-77@127.0.0.1:{made.port}/postgres"
    with pytest.raises(BackupError) as caught:
        take_backup(PhysicalPostgresSource(dsn), "pg", [repo], settings, backup_id="bad")
    message = str(caught.value)
    assert "pg_basebackup failed" in message
    assert "max_wal_senders" in message
    assert "pw-Secret-77" not in message
    assert not any(key.endswith("manifest.json") for key in repo.keys(""))


def test_a_cluster_configured_outside_its_data_directory_restores(
    pg_clusters: list[Cluster], keys: Keys, settings: Settings, repo: LocalDestination
) -> None:
    """A server whose postgresql.conf and pg_hba.conf live outside the data directory (as
    Debian's in /etc/postgresql): its base holds none; the restore test writes minimal ones
    and passes."""
    root = owned_dir("buttress-physical-")
    made = make_cluster(root, start=False)
    pg_clusters.append(made)
    etc = root / "etc"
    etc.mkdir()
    for name in ("postgresql.conf", "pg_hba.conf", "pg_ident.conf"):
        (made.data / name).rename(etc / name)
    with (etc / "postgresql.conf").open("a") as f:
        f.write(
            f"data_directory = '{made.data}'\nhba_file = '{etc / 'pg_hba.conf'}'\n"
            f"ident_file = '{etc / 'pg_ident.conf'}'\n"
        )
    chown_tree(etc)
    configured = Cluster(root, etc, made.port, made.bin)
    configured.start()
    pg_clusters.append(configured)
    manifest = take_backup(PhysicalPostgresSource(made.dsn()), "pg", [repo], settings).manifest
    tested = restore_test(manifest, PhysicalPostgresSource(made.dsn()), [repo], keys.identities)
    assert tested.ok, tested.problems
