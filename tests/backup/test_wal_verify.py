"""The WAL check of ``backup verify --wal``: every archived WAL object of a target re-read in
each destination, a damaged one and a missing range named; real segments of a private
cluster, pushed into two local destinations."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from buttress.backup.tables import BackupRun
from buttress.backup.wal import layout
from buttress.backup.wal.names import parse_name
from buttress.backup.wal.service import Wal
from buttress.backup.wal.verify import verify_wal
from buttress.catalog import Catalog
from buttress.catalog.tables import utcnow
from buttress.cli import main
from buttress.config import load
from tests.backup.conftest import config_file, recipient, run_json
from tests.backup.pg_cluster import Cluster, make_cluster, owned_dir


def _segments(cluster: Cluster, into: Path, count: int) -> list[Path]:
    """``count`` finished segments of ``cluster``, copied out of its pg_wal, oldest first."""
    into.mkdir()
    cluster.sql("CREATE TABLE t (n int)")
    out = []
    for _ in range(count):
        cluster.sql("INSERT INTO t SELECT generate_series(1, 1000)")
        name = cluster.switch_wal()
        out.append(Path(shutil.copy(cluster.data / "pg_wal" / name, into / name)))
    return out


def test_damaged_object_and_missing_range_are_named(
    project: Path, catalog: Catalog, pg_clusters: list[Cluster]
) -> None:
    """Five segments in two destinations; one object altered in `local`, the fourth never
    archived, one object deleted from `spare` only: each problem is named with its
    destination; the good objects pass."""
    cluster = make_cluster(owned_dir("buttress-walverify-"))
    pg_clusters.append(cluster)
    config_file(
        project,
        recipient(project),
        "    - {name: pg, source: postgresql, kind: physical,"
        f" dsn: '{cluster.dsn()}', wal: {{}}, destinations: [local, spare]}}\n",
    )
    path = project / "buttress.yaml"
    path.write_text(
        path.read_text().replace(
            "    - {name: local, path: repo}\n",
            "    - {name: local, path: repo}\n    - {name: spare, path: spare}\n",
        )
    )
    config = load(path).backup
    wal = Wal(config, catalog)
    files = _segments(cluster, project / "segs", 5)
    names = [f.name for f in files]
    for f in files[:3] + files[4:]:  # the fourth is never archived: a gap
        wal.push("pg", f)
    physical = {
        "timeline": 1,
        "start_wal": names[0],
        "stop_wal": names[0],
        "stop_time": utcnow().isoformat(),
    }
    with catalog.begin() as session:
        session.add(
            BackupRun(
                id="base1",
                target="pg",
                status="succeeded",
                started_at=utcnow(),
                detail={"physical": physical},
            )
        )
    good = verify_wal(Wal(config, catalog), "pg", "base1")
    assert [p for p in good.problems if "missing" not in p] == []
    assert good.per_destination["local"].objects == 4
    assert [(g.first, g.count) for g in good.per_destination["local"].gaps] == [(names[3], 1)]

    second = parse_name(names[1])
    [(_, sha)] = [
        (n, s) for n, s in wal.archive("pg", reading=True).listing()["local"] if n == second
    ]
    key = layout.object_key("pg", second, sha)
    stored = project / "repo" / key
    data = bytearray(stored.read_bytes())
    data[len(data) // 2] ^= 0x40
    stored.write_bytes(bytes(data))
    third = parse_name(names[2])
    [(_, sha3)] = [
        (n, s) for n, s in wal.archive("pg", reading=True).listing()["spare"] if n == third
    ]
    (project / "spare" / layout.object_key("pg", third, sha3)).unlink()

    found = verify_wal(Wal(config, catalog), "pg", "base1")
    assert not found.ok
    local, spare = found.per_destination["local"], found.per_destination["spare"]
    assert not local.ok
    damaged = [p for p in local.problems if names[1] in p]
    assert len(damaged) == 1
    assert key in damaged[0]
    assert any(f"{names[3]}" in p and "missing" in p for p in local.problems)
    assert [p for p in local.problems if names[0] in p or names[4] in p] == []
    assert [(g.first, g.last, g.count) for g in spare.gaps] == [
        (names[2], names[3], 2)
    ]  # the deleted third and the never-archived fourth
    assert not any(names[1] in p for p in spare.problems)  # spare's copy is whole
    assert found.problems == local.problems + spare.problems


def test_a_run_that_is_not_a_base_backup_is_said(project: Path, catalog: Catalog) -> None:
    """Asked for gaps after a run the catalog does not know as a physical base backup: said."""
    config_file(
        project,
        recipient(project),
        "    - {name: pg, source: postgresql, kind: physical,"
        " dsn: 'postgresql://postgres@127.0.0.1:1/x', wal: {}}\n",
    )
    config = load(project / "buttress.yaml").backup
    result = verify_wal(Wal(config, catalog), "pg", "nope")
    assert result.problems == ["backup nope is not a physical base backup the catalog knows"]


def test_verify_wal_of_a_target_without_wal_is_refused(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`backup verify ID --wal` of a backup whose target archives no WAL: the backup is
    checked, then a clear error naming the target, and a non-zero exit."""
    config_file(project, recipient(project))
    run = run_json(capsys, ["backup", "run", "site", "--json"])
    code = main(["backup", "verify", run["id"], "--wal"])
    out = capsys.readouterr()
    assert code != 0
    assert "target site does not archive WAL" in out.err
