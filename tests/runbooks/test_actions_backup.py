"""backup.run waits for the backup; backup.verify restore-tests it; both through Backups."""

from __future__ import annotations

from pathlib import Path

from buttress.backup.keys import generate_identity
from buttress.backup.service import Backups
from buttress.catalog import Catalog, catalog_url
from buttress.runbooks.engine import Engine
from buttress.runbooks.recorder import MemoryRecorder
from tests.runbooks.helpers import config, runbook_yaml


def backup_yaml(tmp_path: Path) -> str:
    recipient = generate_identity(tmp_path / "key.txt")
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text("<h1>hi</h1>\n" * 100)
    return (
        "backup:\n"
        f"  recipients: [{recipient}]\n"
        f"  identity_files: [{tmp_path / 'key.txt'}]\n"
        "  destinations:\n"
        f"    - {{name: local, path: {tmp_path / 'repo'}}}\n"
        "  targets:\n"
        f"    - {{name: site, source: directory, path: {site}}}\n"
    )


def test_run_then_verify_with_a_restore_test(tmp_path: Path) -> None:
    """backup.run records a succeeded run whose id the verify step reads and restore-tests."""
    steps = """\
    - name: backup
      action: {name: backup.run, with: {target: site}}
    - name: verify
      action:
        name: backup.verify
        with: {backup_id: "{{ steps.backup.backup_id }}", restore_test: true}
    """
    cfg = config(tmp_path, backup_yaml(tmp_path) + runbook_yaml(steps))
    catalog = Catalog(catalog_url(None, tmp_path))
    catalog.upgrade()
    recorder = MemoryRecorder()
    eng = Engine(cfg, catalog=catalog, recorder=recorder, actor="token:ops")
    planned = eng.plan("rb", {})
    assert [p.problems for p in planned] == [[], []]
    assert planned[1].action == (
        "backup.verify: verify <steps.backup.backup_id> with a restore test"
    )
    assert Backups(cfg.backup, catalog).runs("site") == []  # the dry run backed nothing up
    assert eng.run("rb", {}, run_id="r") == "succeeded", recorder.steps
    backup_id = recorder.steps["0"].values["backup_id"]
    assert recorder.steps["1"].values == {"backup_id": backup_id, "ok": True}
    run = Backups(cfg.backup, catalog).get(backup_id)
    assert run.status == "succeeded"
    assert run.restore_test_status == "ok"
    catalog.dispose()


def test_an_unknown_target_is_a_dry_run_problem(tmp_path: Path) -> None:
    """Planning backup.run of a target that does not exist says so."""
    steps = "- name: backup\n  action: {name: backup.run, with: {target: nope}}\n"
    cfg = config(tmp_path, backup_yaml(tmp_path) + runbook_yaml(steps))
    catalog = Catalog(catalog_url(None, tmp_path))
    catalog.upgrade()
    (planned,) = Engine(cfg, catalog=catalog, recorder=MemoryRecorder(), actor="t").plan("rb", {})
    assert planned.problems == ["no backup target 'nope' (targets: site)"]
    catalog.dispose()
