"""Automated backup and restore-test actions for real: a SQLite target backed up by an
incident's rule (its run in the catalog, triggered by the incident), then restore-tested."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from buttress.backup.service import Backups
from buttress.catalog import Catalog
from buttress.config import ButtressConfig, load_text
from buttress.incidents.actions import Actions
from tests.backup.conftest import project, recipient
from tests.conftest import wait_until
from tests.incidents.test_actions import declare
from tests.incidents.test_escalation import Clock

__all__ = ["project"]


def config(project: Path, rules: str, allowed: str) -> ButtressConfig:
    db = project / "shop.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS orders (id INTEGER PRIMARY KEY, item TEXT)")
        conn.executemany("INSERT INTO orders (item) VALUES (?)", [("a",), ("b",), ("c",)])
    conn.close()
    return load_text(
        "backup:\n"
        f"  recipients: [{recipient(project)}]\n"
        "  identity_files: [key.txt]\n"
        "  destinations:\n    - {name: local, path: repo}\n"
        f"  targets:\n    - {{name: shop, source: sqlite, path: '{db}'}}\n"
        f"incidents:\n  allowed_actions: [{allowed}]\n  actions:\n{rules}"
    )


def test_a_backup_is_started_on_a_real_sqlite_target_and_its_run_recorded(
    project: Path, catalog: Catalog
) -> None:
    """The rule starts a backup of `shop`; it finishes `succeeded`, triggered by the incident,
    and the action's run names the backup."""
    rule = "    - {name: snap, do: {type: backup, target: shop}}\n"
    cfg = config(project, rule, "backup")
    incident = declare(catalog)
    (result,) = Actions(catalog, cfg, clock=Clock()).run_for(incident.id)
    assert result.outcome == "ok", result.error
    backup_id = result.detail["backup_id"]
    backups = Backups(cfg.backup, catalog)
    wait_until(lambda: backups.get(backup_id).status != "running", "the backup to finish")
    run = backups.get(backup_id)
    assert run.status == "succeeded", run.error
    assert run.detail["trigger"] == f"incident:{incident.ref}"


def test_a_restore_test_restores_the_newest_good_backup(project: Path, catalog: Catalog) -> None:
    """With a good backup of `shop`, the rule restore-tests it: restore_test_status ok."""
    rule = "    - {name: drill, do: {type: restore_test, target: shop}}\n"
    cfg = config(project, rule, "restore_test")
    backups = Backups(cfg.backup, catalog)
    good = backups.run("shop", trigger="test")
    assert good.status == "succeeded"
    (result,) = Actions(catalog, cfg, clock=Clock()).run_for(declare(catalog).id)
    assert result.outcome == "ok", result.error
    assert result.detail["backup_id"] == good.id
    wait_until(lambda: backups.get(good.id).restore_test_status != "", "the restore test")
    assert backups.get(good.id).restore_test_status == "ok"


def test_a_restore_test_without_a_good_backup_fails_and_says_so(
    project: Path, catalog: Catalog
) -> None:
    """No backup of `shop` yet: the action fails with the reason."""
    rule = "    - {name: drill, do: {type: restore_test, target: shop}}\n"
    cfg = config(project, rule, "restore_test")
    (result,) = Actions(catalog, cfg, clock=Clock()).run_for(declare(catalog).id)
    assert result.outcome == "failed"
    assert result.error == "target shop has no good backup to restore-test"
