"""A point-in-time restore after the catalog is lost with the server: a new, empty catalog,
the same repository and keys; the base backup is found in the destinations (its manifest
authenticated with the manifest key), no ``--backup`` needed."""

from __future__ import annotations

import dataclasses
import shutil

import yaml

from tests.backup.pg_cluster import Cluster, owned_dir
from tests.backup.test_pitr_restore import _base_backup, _port, _setup, _stop, _value


def test_a_restore_to_a_time_from_an_empty_catalog_finds_the_base_in_the_repository(
    pg_database: str, pg_clusters: list[Cluster]
) -> None:
    """With a fresh SQLite catalog that knows no backup, a restore to t1 picks the base backup
    from the repository and holds exactly the rows committed by t1."""
    setup = _setup(pg_database, pg_clusters)
    cluster = setup.cluster
    cluster.sql("CREATE TABLE t (id int)")
    view = _base_backup(setup)
    cluster.sql("INSERT INTO t SELECT generate_series(1, 300)")
    t1 = cluster.value("SELECT clock_timestamp()")
    cluster.sql("INSERT INTO t SELECT generate_series(301, 400)")
    cluster.wait_archived(cluster.switch_wal())
    settings = yaml.safe_load(setup.config.read_text())
    settings["catalog"] = {"url": f"sqlite:///{setup.root}/fresh-catalog.db"}
    other = setup.root / "after-the-disaster.yaml"
    other.write_text(yaml.safe_dump(settings))
    fresh = dataclasses.replace(setup, config=other)
    assert fresh.cli("db", "upgrade").returncode == 0
    listed = fresh.cli("backup", "list", "pg")
    assert str(view["id"]) not in listed.stdout  # the new catalog knows nothing
    place = owned_dir("buttress-restored-")
    datadir = place / "data"
    try:
        done = fresh.cli(
            "backup", "restore", "pg", "--to", str(datadir), "--target-time", t1.isoformat()
        )
        assert done.returncode == 0, done.stderr + done.stdout
        assert str(view["id"]) in done.stdout + done.stderr
        assert _value(_port(done.stdout), "SELECT count(*) FROM t") == 300
    finally:
        _stop(datadir, cluster)
        shutil.rmtree(place, ignore_errors=True)
