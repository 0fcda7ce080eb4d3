"""Restores fall back object by object: a damaged copy in one destination is read from another
(and named), --from chooses the destination, verify reports each destination, and `copy`
repairs a damaged destination by SHA-256; with no good copy anywhere nothing is restored."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from buttress.backup import engine
from buttress.backup.destinations import LocalDestination
from buttress.backup.errors import CorruptBackupError
from buttress.backup.keys import load_identities
from buttress.backup.pipeline import Settings
from buttress.backup.s3 import S3Destination
from buttress.backup.sources.directory import DirectorySource
from buttress.cli import main
from tests.backup.conftest import Keys, config_file, recipient, run_json

DATA = os.urandom(3 << 20)


def _two_destinations(project: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """A backup of `site` (four objects of 1 MiB or less) in destinations local and offsite."""
    config_file(project, recipient(project))
    path = project / "buttress.yaml"
    text = path.read_text().replace(
        "    - {name: local, path: repo}\n",
        "    - {name: local, path: repo}\n    - {name: offsite, path: offsite}\n",
    )
    path.write_text(text.replace("path: site}", "path: site, object_size_mb: 1}"))
    (project / "site" / "data.bin").write_bytes(DATA)
    run = run_json(capsys, ["backup", "run", "site", "--json"])
    assert run["destinations"] == ["local", "offsite"]
    backup_id: str = run["id"]
    return backup_id


def _flip(project: Path, repo: str, backup_id: str, index: int) -> str:
    victim = project / repo / "site" / backup_id / f"tar.{index:06d}"
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0x10
    victim.write_bytes(bytes(data))
    return f"site/{backup_id}/tar.{index:06d}"


def test_a_damaged_object_is_read_from_the_other_destination_and_copy_repairs_it(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """One bit flipped in one object of `local`: verify names it per destination, the restore
    test and restore read it from `offsite` and say so, --from local fails before restoring,
    and `copy ID local --from offsite` repairs local."""
    backup_id = _two_destinations(project, capsys)
    key = _flip(project, "repo", backup_id, 1)
    checked = run_json(capsys, ["backup", "verify", backup_id, "--restore-test", "--json"], 1)
    per = checked["per_destination"]
    assert per["offsite"]["ok"]
    assert not per["local"]["ok"]
    assert per["local"]["problems"] == [f"{key} in local (repo): SHA-256 mismatch"]
    assert checked["restore_test"]["ok"]
    skipped = checked["restore_test"]["skipped"]
    assert skipped == [
        f"object {key} in destination local (repo): SHA-256 mismatch; read from offsite"
    ]
    capsys.readouterr()
    assert main(["backup", "verify", backup_id]) == 1
    shown = capsys.readouterr().out
    assert "local: 1 problem(s) (manifest authenticated by catalog, key)" in shown
    assert "offsite: ok (manifest authenticated by catalog, key)" in shown
    assert main(["backup", "restore", backup_id, "--to", "out"]) == 0
    assert f"warning: {skipped[0]}" in capsys.readouterr().err
    assert (project / "out" / "data.bin").read_bytes() == DATA
    assert main(["backup", "restore", backup_id, "--to", "out2", "--from", "local"]) == 1
    err = capsys.readouterr().err
    assert f"object {key} in destination local" in err
    assert "nothing was restored" in err
    assert not (project / "out2").exists()
    assert main(["backup", "restore", backup_id, "--to", "out2", "--from", "nas"]) == 2
    assert "unknown destination 'nas' (--from)" in capsys.readouterr().err
    from_local = ["backup", "verify", backup_id, "--restore-test", "--from", "local", "--json"]
    assert not run_json(capsys, from_local, 1)["restore_test"]["ok"]
    copied = run_json(capsys, ["backup", "copy", backup_id, "local", "--from", "offsite", "--json"])
    assert (copied["repaired"], copied["copied"], copied["skipped"]) == (1, 1, 3)
    again = run_json(capsys, ["backup", "verify", backup_id, "--json"])
    assert again["problems"] == []
    assert all(r["ok"] for r in again["per_destination"].values())


def test_an_object_damaged_everywhere_fails_before_the_source_sees_a_byte(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The pre-pass finds an object with no good copy and raises, naming it in every
    destination, before the restore target is created."""
    backup_id = _two_destinations(project, capsys)
    _flip(project, "repo", backup_id, 1)
    key = _flip(project, "offsite", backup_id, 1)
    dests = [
        LocalDestination("local", project / "repo"),
        LocalDestination("offsite", project / "offsite"),
    ]
    manifest = engine.load_manifest(dests[0], "site", backup_id)
    with pytest.raises(CorruptBackupError) as caught:
        engine.plan_objects(manifest, dests)
    assert f"object {key} in destination local" in str(caught.value)
    assert f"object {key} in destination offsite" in str(caught.value)
    source = DirectorySource(project / "site")
    identities = load_identities([project / "key.txt"])
    with pytest.raises(CorruptBackupError, match="no destination holds a good copy"):
        engine.restore(manifest, source, dests, identities, str(project / "out"))
    assert not (project / "out").exists()


def test_restore_falls_back_from_s3_to_local_object_by_object(
    tmp_path: Path, keys: Keys, settings: Settings, s3_dest: S3Destination, repo: LocalDestination
) -> None:
    """A damaged object in the S3 destination (checked several at a time) is read from the
    local one; the others still come from S3."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "data.bin").write_bytes(os.urandom(1 << 20))  # five objects of 256 KiB
    result = engine.take_backup(DirectorySource(site), "site", [s3_dest, repo], settings)
    manifest = result.manifest
    objects = manifest.artifacts[0].objects
    assert len(objects) > 2
    damaged = bytearray(s3_dest.get(objects[1].key))
    damaged[7] ^= 4
    s3_dest.put(objects[1].key, bytes(damaged))
    plan = engine.plan_objects(manifest, [s3_dest, repo])
    assert plan.sources[objects[1].key] is repo
    assert all(plan.sources[o.key] is s3_dest for o in objects if o is not objects[1])
    assert plan.skipped == [
        f"object {objects[1].key} in destination {s3_dest.describe()}: SHA-256 mismatch; "
        "read from local"
    ]
    out = tmp_path / "out"
    engine.restore(manifest, DirectorySource(site), plan, keys.identities, str(out))
    assert (out / "data.bin").read_bytes() == (site / "data.bin").read_bytes()
