"""`buttress backup prune`: retention applied to real runs in a local directory and an S3
bucket, every decision explained, the newest verified backup kept, leftovers of failed and
killed runs removed, orphans reported, a dry run that changes nothing."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

import pytest

from buttress.backup.tables import BackupRun
from buttress.catalog import Catalog, catalog_url
from buttress.cli import main
from tests.backup.conftest import add_s3_destination, config_file, recipient, run_json
from tests.conftest import S3Server

DAY = dt.timedelta(days=1)
NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)


def _set_started(project: Path, started: dict[str, dt.datetime]) -> None:
    """Backdate runs in the catalog (retention works on when a backup was taken)."""
    cat = Catalog(catalog_url(None, project / ".buttress"), connect_timeout=5)
    with cat.begin() as session:
        for run_id, when in started.items():
            row = session.get(BackupRun, run_id)
            assert row is not None
            row.started_at = when
    cat.dispose()


def _add_run(project: Path, run_id: str, status: str, pid: int = 0) -> None:
    cat = Catalog(catalog_url(None, project / ".buttress"), connect_timeout=5)
    with cat.begin() as session:
        session.add(
            BackupRun(
                id=run_id,
                target="site",
                status=status,
                started_at=NOW - 10 * DAY,
                host=__import__("socket").gethostname(),
                pid=pid,
                detail={},
            )
        )
    cat.dispose()


@pytest.fixture
def four_days(
    project: Path, capsys: pytest.CaptureFixture[str], s3_server: S3Server
) -> dict[str, Any]:
    """Four daily backups of `site` (newest first) in a local directory and an S3 bucket."""
    bucket = s3_server.new_bucket()
    config_file(project, recipient(project))
    add_s3_destination(project, bucket, s3_server.endpoint, ", secret_access_key: s")
    text = (project / "buttress.yaml").read_text()
    text = text.replace(
        "source: directory, path: site}",
        "source: directory, path: site, retention: {keep_last: 2}}",
    )
    (project / "buttress.yaml").write_text(text)
    ids = [run_json(capsys, ["backup", "run", "site", "--json"])["id"] for _ in range(4)]
    ids.reverse()
    _set_started(project, {run_id: NOW - i * DAY for i, run_id in enumerate(ids)})
    return {"ids": ids, "bucket": bucket}


def _objects(project: Path, s3_server: S3Server, bucket: str, backup_id: str) -> tuple[int, int]:
    local = list((project / "repo" / "site").glob(f"{backup_id}/*"))
    listed = s3_server.client().list_objects_v2(Bucket=bucket, Prefix=f"site/{backup_id}/")
    return len(local), listed["KeyCount"]


def test_dry_run_explains_and_changes_nothing(
    project: Path,
    capsys: pytest.CaptureFixture[str],
    four_days: dict[str, Any],
    s3_server: S3Server,
) -> None:
    ids = four_days["ids"]
    report = run_json(capsys, ["backup", "prune", "--dry-run", "--json"])
    actions = {i["id"]: (i["action"], i["reasons"]) for i in report["items"]}
    assert actions[ids[0]] == ("keep", ["newest backup", "last 2"])
    assert actions[ids[1]] == ("keep", ["last 2"])
    assert actions[ids[2]] == ("remove", ["not kept by the retention policy"])
    assert actions[ids[3]][0] == "remove"
    assert report["dry_run"]
    for backup_id in ids:
        assert _objects(project, s3_server, four_days["bucket"], backup_id) != (0, 0)
    capsys.readouterr()
    assert main(["backup", "prune", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "would remove" in out
    assert "2 would be removed (dry run: nothing changed)" in out


def test_prune_removes_from_every_destination_and_keeps_the_newest_verified(
    project: Path,
    capsys: pytest.CaptureFixture[str],
    four_days: dict[str, Any],
    s3_server: S3Server,
) -> None:
    ids, bucket = four_days["ids"], four_days["bucket"]
    run_json(capsys, ["backup", "verify", ids[3], "--json"])  # the oldest is the only verified
    report = run_json(capsys, ["backup", "prune", "--json"])
    removed = {i["id"] for i in report["items"] if i["action"] == "remove"}
    assert removed == {ids[2]}
    kept = {i["id"]: i["reasons"] for i in report["items"] if i["action"] == "keep"}
    assert kept[ids[3]] == ["newest verified backup"]
    assert _objects(project, s3_server, bucket, ids[2]) == (0, 0)
    assert not (project / "repo" / "site" / ids[2]).exists()  # no empty folder left
    listed = {r["id"]: r["status"] for r in run_json(capsys, ["backup", "list", "--json"])}
    assert listed[ids[2]] == "pruned"
    for backup_id in (ids[0], ids[1], ids[3]):
        assert listed[backup_id] == "succeeded"
        assert run_json(capsys, ["backup", "verify", backup_id, "--json"])["problems"] == []
    # now the newest backup is verified too: the old one is no longer protected
    again = run_json(capsys, ["backup", "prune", "--json"])
    assert [i["id"] for i in again["items"] if i["action"] == "remove"] == [ids[3]]
    last = run_json(capsys, ["backup", "prune", "--json"])
    assert [i for i in last["items"] if i["action"] == "remove"] == []


def test_leftovers_of_killed_runs_and_orphans(
    project: Path,
    capsys: pytest.CaptureFixture[str],
    four_days: dict[str, Any],
    s3_server: S3Server,
) -> None:
    """A killed run's objects and unfinished S3 upload go; unknown objects are reported, and
    removed only when asked; a failed run that stored nothing keeps its status."""
    bucket = four_days["bucket"]
    dead = "20261101T000000Z-dead00"
    _add_run(project, dead, "running", pid=2**22 + 17)  # a process that does not exist
    (project / "repo" / "site" / dead).mkdir(parents=True)
    (project / "repo" / "site" / dead / "tar.000000").write_bytes(b"half")
    (project / "repo" / "site" / dead / "tar.000001.partial-1234abcd").write_bytes(b"x")
    client = s3_server.client()
    client.put_object(Bucket=bucket, Key=f"site/{dead}/tar.000000", Body=b"half")
    client.create_multipart_upload(Bucket=bucket, Key=f"site/{dead}/tar.000001")
    orphan = "20200101T000000Z-0a0a0a"
    (project / "repo" / "site" / orphan).mkdir()
    (project / "repo" / "site" / orphan / "tar.000000").write_bytes(b"?")
    assert main(["backup", "run", "db"]) == 1  # fails before storing anything
    report = run_json(capsys, ["backup", "prune", "--json"])
    items = {i["id"]: i for i in report["items"]}
    assert items[dead]["action"] == "remove"
    assert items[dead]["status"] == "incomplete"
    assert not (project / "repo" / "site" / dead).exists()
    assert client.list_objects_v2(Bucket=bucket, Prefix=f"site/{dead}/")["KeyCount"] == 0
    assert report["aborted_uploads"] == {"cloud": [f"site/{dead}/tar.000001"]}
    assert report["orphans"] == {"local": [orphan]}
    assert (project / "repo" / "site" / orphan / "tar.000000").exists()
    listed = {r["id"]: r for r in run_json(capsys, ["backup", "list", "--json"])}
    assert listed[dead]["status"] == "pruned"
    failed = [r for r in listed.values() if r["target"] == "db"]
    assert failed[0]["status"] == "failed"
    capsys.readouterr()
    assert main(["backup", "prune", "--remove-orphans"]) == 0
    assert "orphans in local: 20200101T000000Z-0a0a0a (removed)" in capsys.readouterr().out
    assert not (project / "repo" / "site" / orphan).exists()


def test_without_retention_rules_nothing_is_removed(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config_file(project, recipient(project))
    for _ in range(3):
        run_json(capsys, ["backup", "run", "site", "--json"])
    report = run_json(capsys, ["backup", "prune", "--json"])
    assert {i["action"] for i in report["items"]} == {"keep"}
    assert {tuple(i["reasons"]) for i in report["items"]} >= {("no retention policy",)}


def test_bad_retention_is_named(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config_file(project, recipient(project))
    text = (
        (project / "buttress.yaml")
        .read_text()
        .replace("path: site}", "path: site, retention: {keep_daily: -1, keep_within: 3x}}")
    )
    (project / "buttress.yaml").write_text(text)
    capsys.readouterr()
    assert main(["backup", "prune"]) == 2
    err = capsys.readouterr().err
    assert "backup.targets[0].retention.keep_daily" in err
    assert "backup.targets[0].retention.keep_within" in err


def test_stale_running_rows_that_stored_nothing_resolve(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A run left `running` whose PID is alive but not its process (the test's own PID, PID 1)
    and that stored nothing is marked abandoned by prune (a dry run only says so), and then
    stays resolved."""
    config_file(project, recipient(project))
    run_json(capsys, ["backup", "run", "site", "--json"])  # creates the catalog
    stale = ["20261101T000000Z-stale1", "20261101T000000Z-stale2"]
    _add_run(project, stale[0], "running", pid=os.getpid())
    _add_run(project, stale[1], "running", pid=1)
    dry = run_json(capsys, ["backup", "prune", "--dry-run", "--json"])
    planned = {i["id"]: i["action"] for i in dry["items"]}
    assert [planned[s] for s in stale] == ["resolve", "resolve"]
    listed = {r["id"]: r["status"] for r in run_json(capsys, ["backup", "list", "--json"])}
    assert [listed[s] for s in stale] == ["incomplete", "incomplete"]
    report = run_json(capsys, ["backup", "prune", "--json"])
    items = {i["id"]: i for i in report["items"]}
    assert items[stale[0]]["reasons"] == [
        "incomplete run (its process is gone) stored nothing: marked abandoned"
    ]
    listed = {r["id"]: r for r in run_json(capsys, ["backup", "list", "--json"])}
    for run_id in stale:
        assert listed[run_id]["status"] == "abandoned"
        assert listed[run_id]["error"].startswith("abandoned by prune: ")
    again = run_json(capsys, ["backup", "prune", "--json"])
    assert not {i["id"] for i in again["items"]} & set(stale)
    capsys.readouterr()
    assert main(["backup", "prune"]) == 0
    assert "resolve" not in capsys.readouterr().out
