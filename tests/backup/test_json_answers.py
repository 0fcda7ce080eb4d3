"""`backup verify --json` and `backup copy --json` answer the keys users script against: per
destination, with and without a restore test, when a copy is damaged or a manifest unreadable;
and what a check records in the run's ``detail.last_check`` has the same shape."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from buttress.backup.service import Backups
from buttress.catalog import Catalog
from buttress.config import load
from tests.backup.conftest import config_file, recipient, run_json


def _shape(value: Any) -> Any:
    """The keys of ``value`` all the way down, each leaf by its JSON type (a list by its first
    item's shape)."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shape(value[0])] if value else []
    return type(value).__name__


def _backup(project: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """A backup of `site` in destinations local and offsite; its id."""
    config_file(project, recipient(project))
    path = project / "buttress.yaml"
    path.write_text(
        path.read_text().replace(
            "    - {name: local, path: repo}\n",
            "    - {name: local, path: repo}\n    - {name: offsite, path: offsite}\n",
        )
    )
    run = run_json(capsys, ["backup", "run", "site", "--json"])
    assert run["destinations"] == ["local", "offsite"]
    return str(run["id"])


_GOOD = {"ok": "bool", "authenticated_by": ["str"], "problems": []}
_ANSWER = {
    "id": "str",
    "target": "str",
    "destinations": ["str"],
    "problems": [],
    "per_destination": {"local": _GOOD, "offsite": _GOOD},
    "warnings": [],
}


def test_verify_answers_the_same_keys(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    backup_id = _backup(project, capsys)
    checked = run_json(capsys, ["backup", "verify", backup_id, "--json"])
    assert _shape(checked) == _ANSWER
    assert checked["id"] == backup_id
    assert checked["target"] == "site"
    assert checked["destinations"] == ["local", "offsite"]
    assert checked["per_destination"]["local"]["authenticated_by"] == ["catalog", "key"]
    tested = run_json(capsys, ["backup", "verify", backup_id, "--restore-test", "--json"])
    assert _shape(tested) == {
        **_ANSWER,
        "restore_test": {
            "ok": "bool",
            "seconds": "float",
            "problems": [],
            "skipped": [],
            "read_from": ["str"],
            "compared": [{"what": "str", "entries": "NoneType", "differences": "int"}],
        },
    }
    assert tested["restore_test"]["ok"] is True
    assert tested["restore_test"]["read_from"] == ["local"]


def test_verify_of_damaged_copies_answers_the_same_keys(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    backup_id = _backup(project, capsys)
    for repo in ("repo", "offsite"):
        victim = next((project / repo / "site" / backup_id).glob("tar.*"))
        data = bytearray(victim.read_bytes())
        data[len(data) // 2] ^= 0x10
        victim.write_bytes(bytes(data))
    argv = ["backup", "verify", backup_id, "--restore-test", "--json"]
    damaged = run_json(capsys, argv, 1)
    bad = {"ok": "bool", "authenticated_by": ["str"], "problems": ["str"]}
    assert _shape(damaged) == {
        **_ANSWER,
        "problems": ["str"],
        "per_destination": {"local": bad, "offsite": bad},
        "restore_test": {"ok": "bool", "seconds": "float", "problems": ["str"]},
    }
    assert damaged["restore_test"]["seconds"] == 0.0
    for repo in ("repo", "offsite"):
        (project / repo / "site" / backup_id / "manifest.json").write_text("{}")
    unreadable = run_json(capsys, argv, 1)
    gone = {"ok": "bool", "authenticated_by": [], "problems": ["str"]}
    assert _shape(unreadable) == {
        **_ANSWER,
        "destinations": [],
        "problems": ["str"],
        "per_destination": {"local": gone, "offsite": gone},
        "restore_test": {"ok": "bool", "problems": ["str"]},
    }
    assert unreadable["restore_test"] == {"ok": False, "problems": ["no readable copy"]}


def test_copy_answers_the_same_keys(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    backup_id = _backup(project, capsys)
    argv = ["backup", "copy", backup_id, "offsite", "--from", "local", "--json"]
    copied = run_json(capsys, argv)
    assert copied == {
        "id": backup_id,
        "from": "local",
        "to": "offsite",
        "copied": 0,
        "skipped": copied["skipped"],
        "repaired": 0,
        "bytes": 0,
    }
    assert copied["skipped"] > 0


def test_a_check_records_and_answers_the_verify_keys(project: Path, catalog: Catalog) -> None:
    config_file(project, recipient(project))
    backups = Backups(load(project / "buttress.yaml").backup, catalog)
    backup_id = backups.run("site").id
    _, job = backups.start_check(backup_id, restore=True)
    answered = backups.check(backup_id, restore=True, job=job)
    assert answered.ok
    last = backups.get(backup_id).detail["last_check"]
    assert set(last) == {
        "id", "target", "destinations", "problems", "per_destination", "warnings",
        "restore_test", "ok", "finished_at",
    }  # fmt: skip
    assert last["ok"] is True
    assert set(last["restore_test"]) == {
        "ok", "seconds", "problems", "skipped", "read_from", "compared",
    }  # fmt: skip
    assert last["per_destination"]["local"] == {
        "ok": True,
        "authenticated_by": ["catalog", "key"],
        "problems": [],
    }
    _, job = backups.start_check(backup_id)
    refused = backups.check(backup_id, restore=True, from_destination="nas", job=job)
    assert not refused.ok
    assert "unknown destination 'nas'" in refused.problems[0]
    last = backups.get(backup_id).detail["last_check"]
    assert set(last) == {"id", "problems", "per_destination", "restore_test", "ok", "finished_at"}
    assert last["restore_test"] == {"ok": False, "problems": ["not run"]}
