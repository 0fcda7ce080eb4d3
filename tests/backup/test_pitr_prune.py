"""`buttress backup prune` on a target with archived WAL: real backups in two local
destinations, WAL objects under real keys, catalog runs with ``detail["physical"]``; a dry run
shows the WAL ranges and why and changes nothing, a real run removes exactly the planned
objects (and keeps the PITR window's anchor backup), the WAL folder is no orphan."""

from __future__ import annotations

import datetime as dt
import hashlib
import subprocess
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from buttress.backup.destinations import LocalDestination
from buttress.backup.prune import backup_ids
from buttress.backup.tables import BackupRun, WalSegment
from buttress.backup.wal import layout
from buttress.backup.wal.names import WalName, parse_name, segment_name
from buttress.catalog import Catalog, catalog_url
from buttress.cli import main
from tests.backup.conftest import config_file, recipient, run_json

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)


def seg(segno: int) -> str:
    return segment_name(1, segno)


def _destinations(project: Path) -> list[LocalDestination]:
    return [LocalDestination(n, project / n) for n in ("repo", "offsite")]


def _files(project: Path) -> set[str]:
    """Every object in both destinations, as `destination/key`."""
    return {
        str(p.relative_to(project))
        for d in ("repo", "offsite")
        for p in (project / d).rglob("*")
        if p.is_file()
    }


def _archive(dest: LocalDestination, names: list[str]) -> dict[str, str]:
    """Store fake WAL files (arbitrary content) under their real keys; name -> key."""
    keys = {}
    for text in names:
        name: WalName = parse_name(text)
        data = f"{dest.name}:{text}".encode()
        key = layout.object_key("site", name, hashlib.sha256(data).hexdigest())
        dest.put(key, data)
        keys[text] = key
    dest.put(layout.info_key("site"), b'{"system_identifier": "7"}')
    return keys


def _index(project: Path, names: list[str]) -> None:
    """Index the WAL files in the catalog, as `wal push` does."""
    cat = Catalog(catalog_url(None, project / ".buttress"), connect_timeout=5)
    with cat.begin() as session:
        for text in names:
            name = parse_name(text)
            session.add(
                WalSegment(
                    target="site",
                    name=text,
                    kind=name.kind,
                    timeline=name.timeline,
                    segno=name.segno,
                    sha256="0" * 64,
                    ready_at=NOW,
                    archived_at=NOW,
                    destinations=["local", "offsite"],
                )
            )
    cat.dispose()


def _indexed(project: Path) -> set[str]:
    cat = Catalog(catalog_url(None, project / ".buttress"), connect_timeout=5)
    with cat.begin() as session:
        found = set(session.scalars(select(WalSegment.name).where(WalSegment.target == "site")))
    cat.dispose()
    return found


def _record(project: Path, facts: dict[str, tuple[dt.datetime, int, int, dt.datetime]]) -> None:
    """Backdate runs and record where each lies in the WAL (as a physical backup does)."""
    cat = Catalog(catalog_url(None, project / ".buttress"), connect_timeout=5)
    with cat.begin() as session:
        for run_id, (started, start, stop, stopped) in facts.items():
            row = session.get(BackupRun, run_id)
            assert row is not None
            row.started_at = started
            row.detail = {
                **(row.detail or {}),
                "physical": {
                    "timeline": 1,
                    "start_lsn": f"0/{start:X}000028",
                    "stop_lsn": f"0/{stop:X}000100",
                    "start_wal": seg(start),
                    "stop_wal": seg(stop),
                    "segment_size": 16 << 20,
                    "start_time": started.isoformat(),
                    "stop_time": stopped.isoformat(),
                },
            }
    cat.dispose()


@pytest.fixture
def archived(project: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    """Three backups of `site` in two destinations (3 days, 2 days, 1 hour old), WAL 1..25
    with two .backup files (offsite lacks segment 5), retention keep_last 1 + pitr_within 1d."""
    return _archive_site(project, capsys)


def _archive_site(project: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    config_file(project, recipient(project))
    path = project / "buttress.yaml"
    path.write_text(
        path.read_text()
        .replace(
            "    - {name: local, path: repo}\n",
            "    - {name: local, path: repo}\n    - {name: offsite, path: offsite}\n",
        )
        .replace(
            "source: directory, path: site}",
            "source: directory, path: site, retention: {keep_last: 1, pitr_within: 1d}}",
        )
    )
    ids = [run_json(capsys, ["backup", "run", "site", "--json"])["id"] for _ in range(3)]
    _record(
        project,
        {
            ids[0]: (NOW - 3 * DAY, 2, 3, NOW - 3 * DAY + HOUR),
            ids[1]: (NOW - 2 * DAY, 10, 11, NOW - 2 * DAY + HOUR),
            ids[2]: (NOW - HOUR, 20, 21, NOW - HOUR / 2),
        },
    )
    names = [seg(n) for n in range(1, 26)]
    names += [f"{seg(2)}.00000028.backup", f"{seg(20)}.00000028.backup"]
    local, offsite = _destinations(project)
    keys = {"repo": _archive(local, names), "offsite": _archive(offsite, names)}
    offsite.delete(keys["offsite"].pop(seg(5)))
    _index(project, names)
    gone = [seg(n) for n in range(1, 10)] + [f"{seg(2)}.00000028.backup"]
    planned = {f"{d}/{keys[d][n]}" for d in keys for n in gone if n in keys[d]}
    return {"ids": ids, "planned": planned, "names": set(names), "gone": set(gone)}


def test_dry_run_shows_the_wal_ranges_and_changes_nothing(
    project: Path, capsys: pytest.CaptureFixture[str], archived: dict[str, Any]
) -> None:
    ids = archived["ids"]
    before = _files(project)
    report = run_json(capsys, ["backup", "prune", "--dry-run", "--json"])
    assert report["orphans"] == {}  # site/wal/ is not a backup
    actions = {i["id"]: (i["action"], i["reasons"]) for i in report["items"]}
    assert actions[ids[2]] == ("keep", ["newest backup", "last 1"])
    assert actions[ids[1]] == (
        "keep",
        ["PITR anchor: the newest base backup that ended over 1d ago"],
    )
    assert actions[ids[0]] == ("remove", ["not kept by the retention policy"])
    [wal] = report["wal"]
    assert wal["target"] == "site"
    assert wal["remove"] == [
        {
            "first": f"{seg(1)}",
            "last": seg(9),
            "count": 10,
            "reason": f"older than backup {ids[1]}'s start ({seg(10)}), the oldest base backup "
            "kept",
            "rule": "before",
        }
    ]
    assert wal["keep"] == [
        {
            "first": seg(10),
            "last": seg(25),
            "count": 17,
            "reason": f"PITR window (1d): from backup {ids[1]}'s start on (the anchor)",
            "rule": "window",
        }
    ]
    assert (wal["removed_files"], wal["deleted_objects"], wal["error"]) == (10, 0, "")
    assert _files(project) == before
    capsys.readouterr()
    assert main(["backup", "prune", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert (
        f"  would remove {seg(1)}..{seg(9)} (10 files): older than backup {ids[1]}'s start"
    ) in out
    assert f"  keep {seg(10)}..{seg(25)} (17 files): PITR window (1d)" in out
    assert "  10 WAL files would be removed, 17 kept" in out
    assert _files(project) == before
    assert _indexed(project) == archived["names"]


def test_prune_removes_exactly_the_planned_wal_after_the_backups(
    project: Path, capsys: pytest.CaptureFixture[str], archived: dict[str, Any]
) -> None:
    ids = archived["ids"]
    before = _files(project)
    report = run_json(capsys, ["backup", "prune", "--json"])
    assert report["errors"] == []
    after = _files(project)
    backup_objects = {f for f in before if f.split("/")[2] == ids[0]}
    assert backup_objects  # the removed backup had objects in both destinations
    assert before - after == archived["planned"] | backup_objects
    assert after <= before
    assert report["wal"][0]["deleted_objects"] == len(archived["planned"]) == 19
    assert all(
        (project / d / "site" / "wal" / "archive.json").exists() for d in ("repo", "offsite")
    )
    listed = {r["id"]: r["status"] for r in run_json(capsys, ["backup", "list", "--json"])}
    assert [listed[i] for i in ids] == ["pruned", "succeeded", "succeeded"]
    assert _indexed(project) == archived["names"] - archived["gone"]  # the index follows
    again = run_json(capsys, ["backup", "prune", "--json"])
    assert again["wal"][0]["remove"] == []
    assert _files(project) == after


def test_a_kept_backup_with_unreadable_facts_keeps_all_wal(
    project: Path, capsys: pytest.CaptureFixture[str], archived: dict[str, Any]
) -> None:
    """A kept backup whose WAL position cannot be read: no WAL is removed, and it is said."""
    ids = archived["ids"]
    cat = Catalog(catalog_url(None, project / ".buttress"), connect_timeout=5)
    with cat.begin() as session:
        row = session.get(BackupRun, ids[2])
        assert row is not None
        row.detail = {**row.detail, "physical": {**row.detail["physical"], "stop_wal": "x"}}
    cat.dispose()
    before = _files(project)
    report = run_json(capsys, ["backup", "prune", "--json"])
    [wal] = report["wal"]
    assert wal["remove"] == []
    assert wal["deleted_objects"] == 0
    assert wal["notes"][0].startswith(f"backup {ids[2]}: detail.physical.stop_wal: 'x'")
    assert wal["notes"][1] == (
        f"no WAL removed: the WAL position of kept base backup {ids[2]} is not recorded"
    )
    gone = before - _files(project)
    assert {f.split("/")[2] for f in gone} == {ids[0]}  # the backup still goes, no WAL


def test_backup_ids_ignores_folders_that_are_not_backups(tmp_path: Path) -> None:
    dest = LocalDestination("local", tmp_path)
    dest.put("site/20261101T000000Z-0a0a0a/tar.000000", b"x")
    dest.put(f"site/wal/0000000100000000/{seg(3)}-{'0' * 64}", b"x")
    dest.put("site/wal/archive.json", b"{}")
    dest.put("site/binlog/mariadb-bin.000001", b"x")
    assert backup_ids(dest, "site") == {"20261101T000000Z-0a0a0a"}


def test_without_a_window_kept_points_keep_their_own_wal(
    project: Path, capsys: pytest.CaptureFixture[str], archived: dict[str, Any]
) -> None:
    """keep_last 2, no pitr_within: the older kept backup keeps its start..stop (summarised
    in the text output), the WAL between it and the newest goes."""
    ids = archived["ids"]
    path = project / "buttress.yaml"
    path.write_text(path.read_text().replace("{keep_last: 1, pitr_within: 1d}", "{keep_last: 2}"))
    report = run_json(capsys, ["backup", "prune", "--dry-run", "--json"])
    [wal] = report["wal"]
    assert [(r["first"], r["last"], r["count"], r["rule"]) for r in wal["remove"]] == [
        (seg(1), seg(9), 10, "before"),
        (seg(12), seg(19), 8, "between"),
    ]
    assert [(r["first"], r["last"], r["rule"]) for r in wal["keep"]] == [
        (seg(10), seg(11), "backup"),
        (f"{seg(20)}.00000028.backup", seg(25), "newest"),
    ]
    capsys.readouterr()
    assert main(["backup", "prune", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert (
        f"  would remove {seg(12)}..{seg(19)} (8 files): between backup {ids[1]}'s end "
        f"({seg(11)}) and backup {ids[2]}'s start ({seg(20)}): no kept backup needs it"
    ) in out
    assert "  keep 2 files in 1 range: each makes a kept backup consistent" in out


def test_no_wal_goes_while_a_backup_to_remove_is_still_there(
    project: Path, capsys: pytest.CaptureFixture[str], full_disk: Path
) -> None:
    """A destination that refuses the removal of a backup (read-only): the backup's WAL, and
    all other WAL, stays in every destination; prune says why and exits 1."""
    (project / "offsite").symlink_to(full_disk)
    ids = _archive_site(project, capsys)["ids"]
    before = _files(project)
    assert any(f.startswith("offsite/site/wal/") for f in before)
    subprocess.run(["mount", "-o", "remount,ro", str(full_disk)], check=True)
    try:
        report = run_json(capsys, ["backup", "prune", "--json"], code=1)
    finally:
        subprocess.run(["mount", "-o", "remount,rw", str(full_disk)], check=True)
    items = {i["id"]: i for i in report["items"]}
    assert "cannot delete" in items[ids[0]]["error"]
    [wal] = report["wal"]
    assert wal["error"] == (
        f"WAL not removed: backup {ids[0]} could not be removed from every destination"
    )
    assert f"target site: {wal['error']}" in report["errors"]
    assert wal["deleted_objects"] == 0
    gone = before - _files(project)
    assert gone  # the backup went from the writable destination...
    assert {f.split("/")[0] for f in gone} == {"repo"}
    assert {f.split("/")[2] for f in gone} == {ids[0]}  # ...and no WAL anywhere
    assert len(_indexed(project)) == 27
