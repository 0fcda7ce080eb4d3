"""The scheduled restore test of a physical target with ``wal:`` is a PITR test: the job the
control plane's scheduler runs restores the newest base backup to a restore point made now,
through the archived WAL fetched with the control plane's own ``restore_command``, and
records it as the base backup's restore test."""

from __future__ import annotations

import json

import yaml
from prometheus_client import CollectorRegistry

from buttress.backup.component import _pitr_command
from buttress.backup.scheduler import BackupScheduler, job_key
from buttress.backup.service import Backups
from buttress.config import load
from buttress.jobs import JobRunner
from buttress.platform.component import ServerContext
from tests.backup.pg_cluster import Cluster
from tests.backup.test_scheduler import _due_now, _ended
from tests.backup.wal_setup import wal_setup


def test_the_scheduled_restore_test_of_a_wal_target_is_a_pitr_test(
    pg_database: str, pg_clusters: list[Cluster]
) -> None:
    """Due now, the restore-test job of target pg runs a PITR test that succeeds and is
    recorded (``pitr: true``) on the newest base backup."""
    setup = wal_setup(pg_database, pg_clusters)
    setup.cluster.wait_archived(setup.cluster.switch_wal())
    text = yaml.safe_load(setup.config.read_text())
    text["backup"]["targets"][0]["restore_test_schedule"] = "30 3 * * *"
    setup.config.write_text(yaml.safe_dump(text))
    run = setup.cli("backup", "run", "pg", "--json")
    assert run.returncode == 0, run.stderr
    backup_id = json.loads(run.stdout)["id"]
    config = load(setup.config)
    catalog = setup.catalog()
    runner = JobRunner(catalog, replica="test", lease=2.0, renew=0.5)
    try:
        context = ServerContext(config=config, catalog=catalog, registry=CollectorRegistry())
        command = _pitr_command(context)
        assert command is not None
        assert f"--config {setup.config}" in command("pg")
        BackupScheduler(
            config.backup, lambda: Backups(config.backup, catalog), runner, pitr_command=command
        )
        assert runner.election.step()
        runner._sync()
        key = job_key("restore_test", "pg")
        _due_now(catalog, key)
        runner.step()
        (ended,) = _ended(runner, key)
        assert ended.outcome == "succeeded", ended.error
        view = Backups(config.backup, catalog).get(backup_id)
        assert view.restore_test_status == "ok"
        assert view.detail["restore_test"]["pitr"] is True
    finally:
        runner.stop()
        catalog.dispose()
