"""`buttress serve` runs the schedule: a target due every two seconds is backed up by the
server process itself, seen through the API and /metrics; SIGTERM still stops it cleanly."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from tests.backup.conftest import config_file, recipient
from tests.conftest import start_server


def test_serve_backs_up_on_schedule(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = config_file(project, recipient(project))
    text = (
        (project / "buttress.yaml")
        .read_text()
        .replace(
            "source: directory, path: site}",
            "source: directory, path: site, schedule_seconds: true, schedule: '* * * * * */2'}",
        )
    )
    (project / "buttress.yaml").write_text(text)
    server = start_server(project / "data", env={"BUTTRESS_CONFIG": config})
    try:
        assert server.admin_token is not None
        headers = {"Authorization": f"Bearer {server.admin_token}"}
        deadline = time.monotonic() + 30
        while True:
            runs = httpx.get(f"{server.url}api/v1/backups/runs", headers=headers).json()
            done = [r for r in runs if r["status"] == "succeeded"]
            if done:
                break
            assert time.monotonic() < deadline, f"no scheduled run: {runs}"
            time.sleep(0.2)
        assert done[0]["detail"]["trigger"] == "schedule"
        targets = httpx.get(f"{server.url}api/v1/backups/targets", headers=headers).json()
        assert targets[0]["next_backup_at"] is not None
        metrics = httpx.get(f"{server.url}metrics").text
        assert 'buttress_backup_last_success_timestamp_seconds{target="site"}' in metrics
    finally:
        assert server.stop() == 0
    log = server.stderr_path.read_text()
    assert "scheduled backup of site" in log
