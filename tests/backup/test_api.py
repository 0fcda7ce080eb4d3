"""`/api/v1/backups` on each catalog backend: roles (viewer reads, operator runs, verifies and
restores, admin prunes), a run started in the background and refused while one is running,
verify and restore through the API, bad requests answered clearly, the audit trail, and the
backup metrics on /metrics."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from buttress.catalog import Catalog, tokens
from buttress.config import load
from buttress.server.app import create_app
from tests.backup.conftest import config_file, recipient


@pytest.fixture
def client(project: Path, catalog: Catalog) -> Iterator[tuple[TestClient, dict[str, str]]]:
    config_file(project, recipient(project))
    config = load(project / "buttress.yaml")
    made = {}
    with catalog.begin() as session:
        for role in ("admin", "operator", "viewer"):
            made[role] = tokens.create(session=session, name=role, role=role, created_by="t")[1]
    with TestClient(create_app(catalog, config), client=("127.0.0.9", 5)) as c:
        yield c, made


def _h(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _wait_done(c: TestClient, token: str, backup_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        run: dict[str, Any] = c.get(f"/api/v1/backups/runs/{backup_id}", headers=_h(token)).json()
        if run["status"] != "running":
            return run
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_run_verify_restore_and_prune_through_the_api(
    client: tuple[TestClient, dict[str, str]], project: Path
) -> None:
    c, t = client
    assert c.post("/api/v1/backups/targets/site/run", headers=_h(t["viewer"])).status_code == 403
    started = c.post("/api/v1/backups/targets/site/run", headers=_h(t["operator"]))
    assert started.status_code == 202
    backup_id = started.json()["id"]
    run = _wait_done(c, t["viewer"], backup_id)
    assert run["status"] == "succeeded"
    assert run["detail"]["trigger"] == "api"
    assert run["metadata"]["file_count"] == 1
    verified = c.post(
        f"/api/v1/backups/runs/{backup_id}/verify",
        json={"restore_test": True},
        headers=_h(t["operator"]),
    ).json()
    assert verified["problems"] == []
    assert verified["restore_test"]["ok"]
    restored = c.post(
        f"/api/v1/backups/runs/{backup_id}/restore",
        json={"to": "api-restore"},
        headers=_h(t["operator"]),
    )
    assert restored.status_code == 200, restored.text
    # a relative path lands in the default restore root, <data dir>/restored
    assert (project / ".buttress" / "restored" / "api-restore" / "index.html").is_file()
    again = c.post(
        f"/api/v1/backups/runs/{backup_id}/restore",
        json={"to": "api-restore"},
        headers=_h(t["operator"]),
    )
    assert again.status_code == 409
    assert "not empty" in again.json()["message"]
    summary = {
        s["name"]: s for s in c.get("/api/v1/backups/targets", headers=_h(t["viewer"])).json()
    }
    assert summary["site"]["last_success"]["id"] == backup_id
    assert summary["site"]["last_success"]["restore_test_status"] == "ok"
    assert [s["id"] for s in summary["site"]["sizes"]] == [backup_id]
    assert summary["db"]["last_success"] is None
    pruned = c.post("/api/v1/backups/prune", json={}, headers=_h(t["operator"]))
    assert pruned.status_code == 403
    pruned = c.post("/api/v1/backups/prune", json={}, headers=_h(t["admin"]))
    assert pruned.json()["dry_run"] is True
    audit = c.get("/api/v1/audit", headers=_h(t["admin"])).json()
    actions = [a["action"] for a in audit]
    for action in ("backup.run", "backup.verify", "backup.restore", "backup.prune"):
        assert action in actions
    metrics = c.get("/metrics").text
    assert 'buttress_backup_last_success_timestamp_seconds{target="site"}' in metrics
    assert 'buttress_backup_runs_total{status="succeeded",target="site",trigger="api"} 1.0' in (
        metrics
    )
    assert 'buttress_backup_last_verified{check="restore_test",target="site"} 1.0' in metrics
    assert 'buttress_backup_failures_total{target="db"} 0.0' in metrics


def test_failures_and_bad_requests(client: tuple[TestClient, dict[str, str]]) -> None:
    c, t = client
    nope = c.post("/api/v1/backups/targets/nope/run", headers=_h(t["operator"]))
    assert nope.status_code == 422
    assert "unknown backup target 'nope'" in nope.json()["message"]
    assert c.get("/api/v1/backups/runs/x", headers=_h(t["viewer"])).status_code == 404
    bad = c.post("/api/v1/backups/targets/db/run", headers=_h(t["operator"]))
    assert bad.status_code == 202
    run = _wait_done(c, t["viewer"], bad.json()["id"])
    assert run["status"] == "failed"
    assert "pw-9" not in run["error"]
    assert 'buttress_backup_failures_total{target="db"} 1.0' in c.get("/metrics").text
    wrong = c.post(
        f"/api/v1/backups/runs/{run['id']}/verify", json={"restore_test": "maybe"},
        headers=_h(t["operator"]),
    )  # fmt: skip
    assert wrong.status_code == 422
    assert "restore_test" in wrong.json()["message"]
    site = _wait_done(
        c,
        t["viewer"],
        c.post("/api/v1/backups/targets/site/run", headers=_h(t["operator"])).json()["id"],
    )
    jobs = c.post(
        f"/api/v1/backups/runs/{site['id']}/restore", json={"jobs": 0},
        headers=_h(t["operator"]),
    )  # fmt: skip
    assert jobs.status_code == 422
    assert "jobs" in jobs.json()["message"]
    jobs = c.post(
        f"/api/v1/backups/runs/{site['id']}/restore", json={"jobs": 2},
        headers=_h(t["operator"]),
    )  # fmt: skip
    assert jobs.status_code == 422
    assert (
        "jobs (--jobs) applies to postgresql targets; 'site' is a directory target"
        in (jobs.json()["message"])
    )


def test_a_second_run_of_a_running_target_is_refused(
    client: tuple[TestClient, dict[str, str]], project: Path
) -> None:
    """409 while the first run is in progress (a big, incompressible tree keeps it busy)."""
    c, t = client
    with open(project / "site" / "big.bin", "wb") as f:
        for _ in range(200):
            f.write(__import__("os").urandom(1 << 20))
    first = c.post("/api/v1/backups/targets/site/run", headers=_h(t["operator"]))
    second = c.post("/api/v1/backups/targets/site/run", headers=_h(t["operator"]))
    assert second.status_code == 409
    assert "already being backed up" in second.json()["message"]
    assert _wait_done(c, t["viewer"], first.json()["id"])["status"] == "succeeded"


def test_targets_summary_survives_a_target_without_destinations(
    project: Path, catalog: Catalog
) -> None:
    """One badly configured target does not take the whole summary (and the page) down."""
    (project / "buttress.yaml").write_text(
        "backup:\n  targets:\n    - {name: lonely, source: directory, path: .}\n"
    )
    config = load(project / "buttress.yaml")
    with catalog.begin() as session:
        token = tokens.create(session=session, name="v", role="viewer", created_by="t")[1]
    with TestClient(create_app(catalog, config)) as c:
        answer = c.get("/api/v1/backups/targets", headers=_h(token))
        assert answer.status_code == 200
        assert answer.json()[0]["destinations"] == []
        run = c.post("/api/v1/backups/targets/lonely/run", headers=_h(token))
        assert run.status_code == 403
