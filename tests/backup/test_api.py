"""`/api/v1/backups` on each catalog backend: roles (viewer reads, operator runs, verifies and
restores, admin prunes), a run started in the background and refused while one is running,
verify and restore through the API, bad requests answered clearly, the audit trail, and the
backup metrics on /metrics."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient

from buttress.backup.tables import BackupRun
from buttress.catalog import Catalog, claims, tokens
from buttress.catalog.tables import Claim, utcnow
from buttress.config import load
from buttress.server.app import create_app
from tests.backup.conftest import config_file, recipient
from tests.conftest import start_server, wait_until


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


def _verify(c: TestClient, token: str, backup_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """POST verify (202 at once), then poll the run until its check is done: the result."""
    started = c.post(f"/api/v1/backups/runs/{backup_id}/verify", json=body, headers=_h(token))
    assert started.status_code == 202, started.text
    assert started.json()["id"] == backup_id
    deadline = time.monotonic() + 60
    while True:
        run: dict[str, Any] = c.get(f"/api/v1/backups/runs/{backup_id}", headers=_h(token)).json()
        if "checking" not in run["detail"]:
            result: dict[str, Any] = run["detail"]["last_check"]
            return result
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
    verified = _verify(c, t["operator"], backup_id, {"restore_test": True})
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
    assert nope.status_code == 404
    assert "backup target 'nope' not found" in nope.json()["message"]
    unknown = c.post("/api/v1/backups/runs/nope/verify", json={}, headers=_h(t["operator"]))
    assert unknown.status_code == 404
    assert c.get("/api/v1/backups/runs/x", headers=_h(t["viewer"])).status_code == 404
    bad = c.post("/api/v1/backups/targets/db/run", headers=_h(t["operator"]))
    assert bad.status_code == 202
    run = _wait_done(c, t["viewer"], bad.json()["id"])
    assert run["status"] == "failed"
    assert "pw-9" not in run["error"]
    wait_until(  # the run is recorded before its event is emitted (and counted)
        lambda: 'buttress_backup_failures_total{target="db"} 1.0' in c.get("/metrics").text,
        "the failure to be counted",
    )
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


def test_sixteen_concurrent_posts_to_a_served_control_plane_start_one_run(
    project: Path, pg_database: str
) -> None:
    """Sixteen operators press "run now" at the same moment on `buttress serve`: exactly one
    202, fifteen 409. The run is held at its start (pg_dump waits for a lock the test holds)
    so that it is still running when the last request arrives."""
    with psycopg.connect(pg_database, autocommit=True) as conn:
        conn.execute("CREATE TABLE t (i int)")
    config = config_file(
        project,
        recipient(project),
        f"    - {{name: pg, source: postgresql, dsn: '{pg_database}'}}\n",
    )
    holder = psycopg.connect(pg_database)
    holder.execute("LOCK TABLE t IN ACCESS EXCLUSIVE MODE")
    server = start_server(project / "data", env={"BUTTRESS_CONFIG": config})
    try:
        assert server.admin_token is not None
        headers = _h(server.admin_token)
        barrier = threading.Barrier(16)

        def post(_: int) -> httpx.Response:
            barrier.wait()
            return httpx.post(
                f"{server.url}api/v1/backups/targets/pg/run", headers=headers, timeout=60
            )

        with ThreadPoolExecutor(16) as pool:
            answers = list(pool.map(post, range(16)))
        codes = sorted(a.status_code for a in answers)
        assert codes == [202] + [409] * 15
        winner = next(a.json()["id"] for a in answers if a.status_code == 202)
        for refused in (a for a in answers if a.status_code == 409):
            assert f"already being backed up by run {winner}" in refused.json()["message"]
        runs = httpx.get(f"{server.url}api/v1/backups/runs", headers=headers).json()
        assert [(r["id"], r["status"]) for r in runs] == [(winner, "running")]
        holder.rollback()  # the dump goes on
        deadline = time.monotonic() + 60
        while True:
            run = httpx.get(f"{server.url}api/v1/backups/runs/{winner}", headers=headers).json()
            if run["status"] != "running":
                break
            assert time.monotonic() < deadline, run
            time.sleep(0.1)
        assert run["status"] == "succeeded"
    finally:
        holder.close()
        assert server.stop() == 0


def _stuck_run(catalog: Catalog, run_id: str, live: bool) -> None:
    """A `running` row of `site`; ``live``: with a claim held by a live process elsewhere."""
    with catalog.begin() as session:
        session.add(
            BackupRun(  # the other columns take their defaults
                id=run_id, target="site", status="running", started_at=utcnow(), host="db-2",
                pid=1,
            )
        )  # fmt: skip
        if live:
            now = claims.catalog_now(session)
            session.add(
                Claim(
                    key="backup:site", holder=run_id, host="db-2", machine="db-2|x|y", pid=1,
                    pid_started=1.0, claimed_at=now, heartbeat_at=now,
                    expires_at=now + dt.timedelta(minutes=5),
                )
            )  # fmt: skip


def test_abandon_through_the_api(
    client: tuple[TestClient, dict[str, str]], catalog: Catalog
) -> None:
    """An operator abandons a run whose process is gone (audited once, by the server); a live
    run is 409 unless forced; a viewer may not; a run that ended is 422."""
    c, t = client
    _stuck_run(catalog, "20261201T000000Z-gone05", live=False)
    path = "/api/v1/backups/runs/20261201T000000Z-gone05/abandon"
    assert c.post(path, json={}, headers=_h(t["viewer"])).status_code == 403
    done = c.post(path, json={"reason": "node lost"}, headers=_h(t["operator"]))
    assert done.status_code == 200
    assert done.json()["status"] == "abandoned"
    assert done.json()["error"].startswith("abandoned by token:")
    assert done.json()["error"].endswith("(operator): node lost")
    assert c.post(path, json={}, headers=_h(t["operator"])).status_code == 422
    _stuck_run(catalog, "20261201T000000Z-live06", live=True)
    live = "/api/v1/backups/runs/20261201T000000Z-live06/abandon"
    refused = c.post(live, json={}, headers=_h(t["operator"]))
    assert refused.status_code == 409
    assert "is alive (its claim is live" in refused.json()["message"]
    forced = c.post(live, json={"force": True}, headers=_h(t["operator"]))
    assert forced.json()["detail"]["abandoned"]["forced"] is True
    audit = c.get("/api/v1/audit?action=backup.abandon", headers=_h(t["admin"])).json()
    assert [(a["target"][-6:], a["outcome"], a["status"]) for a in reversed(audit)] == [
        ("gone05", "denied", 403),
        ("gone05", "success", 200),
        ("gone05", "failed", 422),
        ("live06", "failed", 409),
        ("live06", "success", 200),
    ]


def test_verify_answers_202_and_the_run_holds_the_result(
    client: tuple[TestClient, dict[str, str]],
) -> None:
    """POST verify answers 202 with the run's id at once (the check runs in the background);
    the run shows detail.checking until detail.last_check holds the whole result; what would
    refuse the check (an unknown destination) is answered at once and leaves no mark."""
    c, t = client
    started = c.post("/api/v1/backups/targets/site/run", headers=_h(t["operator"]))
    backup_id = _wait_done(c, t["viewer"], started.json()["id"])["id"]
    url = f"/api/v1/backups/runs/{backup_id}"
    body = {"restore_test": True, "from_destination": "nas"}
    refused = c.post(f"{url}/verify", json=body, headers=_h(t["operator"]))
    assert refused.status_code == 422
    assert "unknown destination 'nas'" in refused.json()["message"]
    assert "checking" not in c.get(url, headers=_h(t["viewer"])).json()["detail"]
    answer = c.post(f"{url}/verify", json={"restore_test": True}, headers=_h(t["operator"]))
    assert answer.status_code == 202
    assert answer.json() == {"id": backup_id, "target": "site", "status": "running"}
    detail = c.get(url, headers=_h(t["viewer"])).json()["detail"]
    assert "checking" in detail or "last_check" in detail
    result = _verify(c, t["operator"], backup_id, {"restore_test": True})
    assert result["ok"]
    assert result["restore_test"]["ok"]
    assert {"what": "file_count", "entries": None, "differences": 0} in result["restore_test"][
        "compared"
    ]
    shown = c.get(url, headers=_h(t["viewer"])).json()
    assert (shown["verify_status"], shown["restore_test_status"]) == ("ok", "ok")


def test_a_background_verify_that_fails_is_recorded_not_left_running(
    client: tuple[TestClient, dict[str, str]], project: Path
) -> None:
    """A restore test that cannot start (the identity file is gone) ends the check: the run's
    detail.last_check says why, its restore test is failed, and detail.checking is gone."""
    c, t = client
    started = c.post("/api/v1/backups/targets/site/run", headers=_h(t["operator"]))
    backup_id = _wait_done(c, t["viewer"], started.json()["id"])["id"]
    (project / "key.txt").unlink()
    result = _verify(c, t["operator"], backup_id, {"restore_test": True})
    assert not result["ok"]
    assert "key.txt" in " ".join(result["problems"] + result["restore_test"]["problems"])
    shown = c.get(f"/api/v1/backups/runs/{backup_id}", headers=_h(t["viewer"])).json()
    assert shown["restore_test_status"] == "failed"
    assert "checking" not in shown["detail"]


def test_verify_per_destination_and_from_destination_through_the_api(
    client: tuple[TestClient, dict[str, str]], project: Path
) -> None:
    """The API's verify reports each destination, and `from_destination` chooses where the
    restore test and the restore read from (an unknown one is a 422 naming it)."""
    c, t = client
    started = c.post("/api/v1/backups/targets/site/run", headers=_h(t["operator"]))
    backup_id = _wait_done(c, t["viewer"], started.json()["id"])["id"]
    url = f"/api/v1/backups/runs/{backup_id}"
    body = {"restore_test": True, "from_destination": "local"}
    verified = _verify(c, t["operator"], backup_id, body)
    assert verified["per_destination"]["local"] == {
        "ok": True,
        "authenticated_by": ["catalog", "key"],
        "problems": [],
    }
    assert verified["restore_test"]["read_from"] == ["local"]
    victim = next((project / "repo" / "site" / backup_id).glob("tar.*"))
    data = bytearray(victim.read_bytes())
    data[-1] ^= 1
    victim.write_bytes(bytes(data))
    damaged = _verify(c, t["operator"], backup_id, body)
    assert not damaged["per_destination"]["local"]["ok"]
    assert "no destination holds a good copy" in damaged["restore_test"]["problems"][0]
    shown = c.get(url, headers=_h(t["viewer"])).json()
    assert shown["verify_status"] == "failed"
    assert not shown["detail"]["verify"]["local"]["ok"]
    nas = c.post(
        f"{url}/restore",
        json={"to": "out", "from_destination": "nas"},  # inside the restore root
        headers=_h(t["operator"]),
    )
    assert nas.status_code == 422
    assert "unknown destination 'nas' (--from)" in nas.json()["message"]
    assert not (project / ".buttress" / "restored" / "out").exists()


def test_a_run_shows_its_copy_in_each_destination(
    client: tuple[TestClient, dict[str, str]],
) -> None:
    """GET a run: per destination, whether it holds every object and the manifest, how many
    objects, and its last check's answer; a failed run holds no copy."""
    c, tok = client
    started = c.post("/api/v1/backups/targets/site/run", headers=_h(tok["operator"]))
    good = _wait_done(c, tok["viewer"], started.json()["id"])
    assert good["status"] == "succeeded"
    objects = sum(a["objects"] for a in good["artifacts"]) + 1  # and the manifest
    assert good["copies"] == [
        {"destination": "local", "stored": True, "objects": objects,
         "stored_size": good["stored_size"], "error": "", "check": None},
    ]  # fmt: skip
    _verify(c, tok["operator"], good["id"], {})
    checked = c.get(f"/api/v1/backups/runs/{good['id']}", headers=_h(tok["viewer"])).json()
    assert checked["copies"][0]["check"]["ok"] is True
    started = c.post("/api/v1/backups/targets/db/run", headers=_h(tok["operator"]))
    failed = _wait_done(c, tok["viewer"], started.json()["id"])
    assert failed["status"] == "failed"
    assert failed["copies"] == []
    assert "pw-9" not in str(failed)
