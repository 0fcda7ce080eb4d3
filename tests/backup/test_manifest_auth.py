"""Manifest authentication: a manifest is trusted only when the catalog's SHA-256 of it or the
manifest key's MAC says it is the one written for this backup; any changed byte, another
backup's manifest, an edited count or size, a dropped object is a named failure."""

from __future__ import annotations

import json
import os
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from buttress.backup.service import Backups
from buttress.backup.tables import BackupRun
from buttress.catalog import Catalog, catalog_url
from buttress.cli import main
from buttress.config import load
from tests.backup.conftest import config_file, recipient, run_json


def _backup(project: Path, capsys: pytest.CaptureFixture[str], objects: int = 1) -> str:
    config_file(project, recipient(project))
    if objects > 1:  # a target whose stream spans several 1 MiB objects
        path = project / "buttress.yaml"
        path.write_text(path.read_text().replace("path: site}", "path: site, object_size_mb: 1}"))
        (project / "site" / "data.bin").write_bytes(os.urandom((objects - 1) << 20))
    backup_id: str = run_json(capsys, ["backup", "run", "site", "--json"])["id"]
    return backup_id


def _manifest(project: Path, backup_id: str) -> Path:
    return project / "repo" / "site" / backup_id / "manifest.json"


@pytest.fixture
def open_backups(project: Path) -> Iterator[Any]:
    """Backups over the project's config and a catalog in ``data_dir`` (default: the project's)."""
    opened: list[Catalog] = []

    def make(data_dir: Path | None = None, **kwargs: Any) -> Backups:
        catalog = Catalog(catalog_url(None, data_dir or project / ".buttress"), connect_timeout=5)
        catalog.upgrade()
        opened.append(catalog)
        return Backups(load(project / "buttress.yaml").backup, catalog, **kwargs)

    yield make
    for catalog in opened:
        catalog.dispose()


def _rewrite(path: Path, edit: Any) -> None:
    """Edit the manifest's JSON and write it back canonically (as buttress would)."""
    data = json.loads(path.read_bytes())
    edit(data)
    path.write_bytes(json.dumps(data, indent=2, sort_keys=True).encode() + b"\n")


def test_the_first_backup_creates_the_manifest_key_0600(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The manifest key is made on the first backup, private, and the manifest names it."""
    backup_id = _backup(project, capsys)
    key = project / ".buttress" / "manifest.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    auth = json.loads(_manifest(project, backup_id).read_bytes())["authentication"]
    assert auth["algorithm"] == "HMAC-SHA256"
    assert key.read_text().strip() not in _manifest(project, backup_id).read_text()


def test_every_flipped_bit_of_a_manifest_fails_verify(
    project: Path, capsys: pytest.CaptureFixture[str], open_backups: Any
) -> None:
    """Each one-bit change of a real manifest that still parses is a named verify failure,
    with the catalog's record and with only the manifest key (the catalog lost)."""
    backup_id = _backup(project, capsys)
    path = _manifest(project, backup_id)
    original = path.read_bytes()
    with_catalog = open_backups()
    key_only = open_backups(project / "elsewhere")  # an empty catalog: after a disaster
    variants = []
    for bit in range(len(original) * 8):
        variant = bytearray(original)
        variant[bit // 8] ^= 1 << (bit % 8)
        try:
            json.loads(variant)
        except ValueError:
            continue
        variants.append(bytes(variant))
    assert len(variants) > 100  # hex digits, names and numbers: many flips still parse
    for backups in (with_catalog, key_only):
        path.write_bytes(original)
        assert backups.verify(backup_id).problems == []
        for changed in variants:
            path.write_bytes(changed)
            result = backups.verify(backup_id)
            assert any("manifest" in p for p in result.problems), (changed, result)
            assert not result.per_destination["local"].ok, (changed, result)


def test_an_older_backups_manifest_over_a_newer_one_fails_verify_and_restore(
    project: Path, capsys: pytest.CaptureFixture[str], open_backups: Any
) -> None:
    """A replaced manifest (another real, authentic one) fails verify, the restore test and
    restore, with or without the catalog; nothing is restored."""
    old = _backup(project, capsys)
    (project / "site" / "index.html").write_text("newer\n")
    new = run_json(capsys, ["backup", "run", "site", "--json"])["id"]
    shutil.copy(_manifest(project, old), _manifest(project, new))
    checked = run_json(capsys, ["backup", "verify", new, "--restore-test", "--json"], 1)
    assert "does not match the catalog's record" in checked["problems"][0]
    assert not checked["restore_test"]["ok"]
    capsys.readouterr()
    assert main(["backup", "restore", new, "--to", "out"]) == 1
    assert "does not match the catalog's record" in capsys.readouterr().err
    assert not (project / "out").exists()
    key_only = open_backups(project / "elsewhere")
    problems = key_only.verify(new).problems
    assert f"manifest is of backup '{old}', not '{new}' (replaced)" in problems[0]


@pytest.mark.parametrize("edit", ["row_count", "raw_size", "drop_last_object"])
def test_edited_counts_sizes_and_object_lists_fail_verify(
    project: Path, capsys: pytest.CaptureFixture[str], open_backups: Any, edit: str
) -> None:
    """A manifest edited and rewritten canonically fails verify: the catalog's SHA-256 and the
    MAC both catch it; a dropped object is "object list altered", never a decryption error."""
    backup_id = _backup(project, capsys, objects=3)

    def change(data: dict[str, Any]) -> None:
        if edit == "row_count":
            data["metadata"]["file_count"] += 1
        elif edit == "raw_size":
            data["artifacts"][0]["raw_size"] -= 1
        else:
            data["artifacts"][0]["objects"].pop()

    _rewrite(_manifest(project, backup_id), change)
    checked = run_json(capsys, ["backup", "verify", backup_id, "--restore-test", "--json"], 1)
    assert "does not match the catalog's record" in checked["problems"][0]
    assert not checked["restore_test"]["ok"]
    key_only = open_backups(project / "elsewhere")
    found = [key_only.verify(backup_id).problems[0]]
    assert "manifest MAC mismatch" in found[0]
    trusting = open_backups(project / "elsewhere", trust_unauthenticated=True)
    (project / ".buttress" / "manifest.key").rename(project / "manifest.key.offline")
    trusted = trusting.verify(backup_id).problems
    if edit == "drop_last_object":  # named as such however it is found
        found.append(trusted[0])
        for problem in [checked["problems"][0], *found]:
            assert "object list altered" in problem
            assert "decrypt" not in problem


def test_without_catalog_record_or_key_verify_fails_unless_told(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """After a disaster (catalog lost), --manifest-key authenticates; with neither catalog nor
    key verify fails by name, unless --trust-unauthenticated; a wrong key is named."""
    backup_id = _backup(project, capsys)
    key = project / ".buttress" / "manifest.key"
    offline = project / "offline.key"
    key.rename(offline)
    lost = ["--data-dir", str(project / "new-host")]
    capsys.readouterr()
    assert main([*lost, "backup", "verify", backup_id]) == 1
    err = capsys.readouterr().err
    assert "cannot authenticate manifest" in err
    assert "(no catalog record, no manifest key)" in err
    checked = run_json(
        capsys, [*lost, "backup", "verify", backup_id, "--manifest-key", str(offline), "--json"]
    )
    assert checked["per_destination"]["local"] == {
        "ok": True,
        "authenticated_by": ["key"],
        "problems": [],
    }
    assert "the catalog has no record" in checked["warnings"][0]
    other = project / "other.key"
    other.write_text("ab" * 32 + "\n")
    assert main([*lost, "backup", "verify", backup_id, "--manifest-key", str(other)]) == 1
    assert "(wrong manifest key?, or the manifest was altered)" in capsys.readouterr().err
    assert main([*lost, "backup", "verify", backup_id, "--trust-unauthenticated"]) == 0
    assert "NOT authenticated (trusted on request)" in capsys.readouterr().err
    assert main([*lost, "backup", "restore", backup_id, "--to", "out"]) == 1
    assert "cannot authenticate manifest" in capsys.readouterr().err
    assert not (project / "out").exists()
    restore = ["backup", "restore", backup_id, "--to", "out", "--manifest-key", str(offline)]
    assert main([*lost, *restore]) == 0
    assert (project / "out" / "index.html").read_text() == "<h1>hi</h1>\n" * 100
    bad = project / "bad.key"
    bad.write_text("not a key\n")
    assert main([*lost, "backup", "verify", backup_id, "--manifest-key", str(bad)]) == 2
    assert f"manifest key {bad}: not a manifest key" in capsys.readouterr().err


def test_a_manifest_without_mac_is_trusted_only_through_the_catalog(
    project: Path, capsys: pytest.CaptureFixture[str], open_backups: Any
) -> None:
    """A manifest written before authentication (no MAC) verifies through the catalog's
    record with a warning; with only the key it is refused as unauthenticated."""
    backup_id = _backup(project, capsys)
    path = _manifest(project, backup_id)
    _rewrite(path, lambda data: data.pop("authentication"))
    import hashlib

    backups = open_backups()
    with backups.catalog.begin() as session:
        row = session.get(BackupRun, backup_id)
        assert row is not None
        row.manifest_sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
    result = backups.verify(backup_id)
    assert result.problems == []
    assert "carries no MAC; authenticated by the catalog only" in result.warnings[0]
    problems = open_backups(project / "elsewhere").verify(backup_id).problems
    assert "it carries no MAC" in problems[0]


def test_a_replaced_manifest_key_does_not_fail_backups_the_catalog_vouches_for(
    project: Path, capsys: pytest.CaptureFixture[str], open_backups: Any
) -> None:
    """After the manifest key is lost and a new one made, older backups still verify through
    the catalog (with a warning naming the old key), and fail without it."""
    backup_id = _backup(project, capsys)
    key = project / ".buttress" / "manifest.key"
    key.write_text("cd" * 32 + "\n")
    result = open_backups().verify(backup_id)
    assert result.problems == []
    assert result.per_destination["local"].authenticated_by == ["catalog"]
    assert "its MAC was not checked" in result.warnings[0]
    problems = open_backups(project / "elsewhere").verify(backup_id).problems
    assert "(wrong manifest key?, or the manifest was altered)" in problems[0]
