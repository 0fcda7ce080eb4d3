"""A verify job whose server dies mid-check does not say ``checking`` forever: the check is
claimed in the catalog like a run, so once its process is gone the run's last check reads as
interrupted, and a new check can be started."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

import httpx
import pytest

from buttress.backup.service import Backups
from buttress.catalog import Catalog, claims
from buttress.config import load
from tests.backup.conftest import config_file, recipient, run_json
from tests.conftest import start_server, wait_until


def test_a_check_whose_server_was_killed_reads_as_interrupted(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """kill -9 of the server during a restore-test verify, then a restart: the run shows no
    ``checking`` but a failed ``last_check`` saying the server stopped while checking, its
    statuses untouched; verifying again works."""
    config = config_file(project, recipient(project))
    data = project / "data"
    backup_id = run_json(
        capsys, ["--data-dir", str(data), "--config", config, "backup", "run", "site", "--json"]
    )["id"]
    stored = project / "repo" / "site" / backup_id / "tar.000000"
    kept = stored.read_bytes()
    stored.unlink()
    os.mkfifo(stored)  # opening it blocks until a writer comes: the check stays under way
    env = {"BUTTRESS_CONFIG": config}
    first = start_server(data, env=env)
    try:
        assert first.admin_token is not None
        headers = {"Authorization": f"Bearer {first.admin_token}"}
        run_url = f"{first.url}api/v1/backups/runs/{backup_id}"
        started = httpx.post(f"{run_url}/verify", json={"restore_test": True}, headers=headers)
        assert started.status_code == 202, started.text
        detail = httpx.get(run_url, headers=headers).json()["detail"]
        assert detail["checking"]["restore_test"] is True  # under way while its server lives
        assert "last_check" not in detail
        first.process.kill()
        first.process.wait(timeout=20)
    finally:
        first.stop()
    second = start_server(data, env=env)
    try:
        run_url = f"{second.url}api/v1/backups/runs/{backup_id}"
        shown: dict[str, Any] = httpx.get(run_url, headers=headers).json()
        assert "checking" not in shown["detail"]
        last = shown["detail"]["last_check"]
        assert last["ok"] is False
        assert last["interrupted"] is True
        assert last["restore_test"] == {"ok": False, "problems": ["interrupted"]}
        (problem,) = last["problems"]
        assert problem.startswith("the server stopped while checking (verify and restore test")
        assert problem.endswith("start it again")
        assert (shown["verify_status"], shown["restore_test_status"]) == ("", "")
        listed = httpx.get(f"{second.url}api/v1/backups/runs", headers=headers).json()
        assert "checking" not in next(r for r in listed if r["id"] == backup_id)["detail"]

        stored.unlink()
        stored.write_bytes(kept)
        again = httpx.post(f"{run_url}/verify", json={"restore_test": True}, headers=headers)
        assert again.status_code == 202, again.text

        def checked() -> bool:
            return "checking" not in httpx.get(run_url, headers=headers).json()["detail"]

        wait_until(checked, "the new check to finish", timeout=60)
        shown = httpx.get(run_url, headers=headers).json()
        assert shown["detail"]["last_check"]["ok"] is True
        assert "interrupted" not in shown["detail"]["last_check"]
        assert (shown["verify_status"], shown["restore_test_status"]) == ("ok", "ok")
    finally:
        assert second.stop() == 0


def test_a_check_that_ends_while_a_newer_one_runs_leaves_its_mark(
    project: Path, catalog: Catalog
) -> None:
    """Two checks of one run: the older one ending records its result but leaves the newer
    one's ``checking``; each releases its own claim."""
    config_file(project, recipient(project))
    backups = Backups(load(project / "buttress.yaml").backup, catalog)
    backup_id = backups.run("site").id
    _, older = backups.start_check(backup_id)
    _, newer = backups.start_check(backup_id, restore=True)
    assert backups.check(backup_id, job=older).problems == []
    shown = backups.get(backup_id)
    assert shown.detail["checking"]["job"] == newer
    assert shown.detail["last_check"]["ok"] is True
    tested = backups.check(backup_id, restore=True, job=newer).restore_test
    assert tested is not None
    assert tested.ok
    shown = backups.get(backup_id)
    assert "checking" not in shown.detail
    assert shown.detail["last_check"]["restore_test"]["ok"] is True
    with catalog.begin() as session:
        assert claims.get(session=session, key=older) is None
        assert claims.get(session=session, key=newer) is None


def test_a_check_on_another_host_is_interrupted_when_its_lease_runs_out(
    project: Path, catalog: Catalog
) -> None:
    """A check claimed from another machine is under way while its lease holds, and reads as
    interrupted (a plain verify this time) once the lease has run out unrenewed; starting a
    check again releases that dead claim."""
    config_file(project, recipient(project))
    backups = Backups(load(project / "buttress.yaml").backup, catalog)
    backup_id = backups.run("site").id
    _, job = backups.start_check(backup_id)
    with catalog.begin() as session:
        claim = claims.get(session=session, key=job)
        assert claim is not None
        claim.machine = "elsewhere|boot|ns"  # its PID means nothing here: the lease decides
    assert "checking" in backups.get(backup_id).detail
    with catalog.begin() as session:
        claim = claims.get(session=session, key=job)
        assert claim is not None
        claim.expires_at = claims.catalog_now(session) - dt.timedelta(seconds=1)
    last = backups.get(backup_id).detail["last_check"]
    assert last["interrupted"] is True
    assert "restore_test" not in last
    assert last["problems"][0].startswith("the server stopped while checking (verify, started ")
    _, again = backups.start_check(backup_id)  # starting it again removes the dead claim
    with catalog.begin() as session:
        assert claims.get(session=session, key=job) is None
        assert claims.get(session=session, key=again) is not None
    assert backups.get(backup_id).detail["checking"]["job"] == again
