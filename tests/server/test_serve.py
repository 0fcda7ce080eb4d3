"""``buttress serve`` as a real process: first start, restart, SIGTERM, bad ports, bad DSNs."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.conftest import Served, free_port, start_server


def wait_healthy(url: str, deadline_s: float = 30) -> float:
    """Poll /healthz until it answers 200; returns the seconds it took."""
    started = time.monotonic()
    while True:
        try:
            if httpx.get(url + "healthz", timeout=2).status_code == 200:
                return time.monotonic() - started
        except httpx.TransportError:
            pass
        assert time.monotonic() - started < deadline_s, "server never became healthy"
        time.sleep(0.05)


def test_first_start_prints_url_and_admin_token(served: Served) -> None:
    """An empty catalog: serve prints its URL and an admin token that works."""
    wait_healthy(served.url)
    print(f"serve startup to announcement: {served.startup_seconds:.2f}s")
    assert served.admin_token is not None
    who = httpx.get(
        served.url + "api/v1/whoami", headers={"Authorization": f"Bearer {served.admin_token}"}
    )
    assert who.json()["role"] == "admin"
    page = httpx.get(served.url)
    assert page.status_code == 200
    assert "<title>buttress</title>" in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]


def test_token_is_not_printed_again_and_not_logged(tmp_path: Path) -> None:
    """The admin token is shown once: not on the next start, and never in the logs."""
    first = start_server(tmp_path / "data")
    wait_healthy(first.url)
    httpx.get(first.url + "api/v1/status", headers={"Authorization": f"Bearer {first.admin_token}"})
    assert first.stop() == 0
    second = start_server(tmp_path / "data")
    try:
        wait_healthy(second.url)
        assert second.admin_token is None
    finally:
        second.stop()
    assert first.admin_token is not None
    assert first.admin_token not in first.stderr_path.read_text()


def test_sigterm_stops_gracefully_with_exit_0(served: Served) -> None:
    """SIGTERM drains and exits 0, logging the shutdown."""
    wait_healthy(served.url)
    assert served.stop() == 0
    log = served.stderr_path.read_text()
    assert "received SIGTERM" in log
    assert "shutdown complete" in log


def test_occupied_port_exits_2_and_creates_no_token(tmp_path: Path) -> None:
    """A port already in use: exit 2 with a clear message, and no token created unseen."""
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen(1)
        port = blocker.getsockname()[1]
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "buttress",
                "--data-dir",
                str(tmp_path / "d"),
                "serve",
                "--port",
                str(port),
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}: the port is already in use" in result.stderr
    assert "bt_" not in result.stdout
    again = start_server(tmp_path / "d")
    try:
        assert again.admin_token is not None  # the catalog was still empty of tokens
    finally:
        again.stop()


def test_unreachable_catalog_exits_1(tmp_path: Path) -> None:
    """serve with a PostgreSQL DSN that does not answer exits 1, host named, password masked."""
    port = free_port()
    config = tmp_path / "b.yaml"
    config.write_text(
        f"catalog:\n  url: postgresql://u:hunter2@127.0.0.1:{port}/x\n  connect_timeout: 1\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "buttress", "--config", str(config), "serve"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert f"127.0.0.1:{port}" in result.stderr
    assert "hunter2" not in result.stderr + result.stdout


def test_json_logs(tmp_path: Path) -> None:
    """--log-format json writes one JSON object per line with request ids on access lines."""
    server = start_server(tmp_path / "data", "--log-format", "json")
    try:
        wait_healthy(server.url)
        httpx.get(server.url + "api/v1/status")
    finally:
        server.stop()
    lines = [
        json.loads(line) for line in server.stderr_path.read_text().splitlines() if line.strip()
    ]
    access = [entry for entry in lines if entry["logger"] == "buttress.access"]
    assert access
    assert all(entry["request_id"] for entry in access)
    assert any(entry["msg"].startswith("GET /api/v1/status 401") for entry in access)


def test_serve_on_postgres_catalog(tmp_path: Path, pg_database: str) -> None:
    """serve runs on a PostgreSQL catalog, migrating it on start."""
    config = tmp_path / "b.yaml"
    config.write_text(f"catalog:\n  url: {pg_database}\n")
    server = start_server(tmp_path / "data", env={"BUTTRESS_CONFIG": str(config)})
    try:
        wait_healthy(server.url)
        status = httpx.get(
            server.url + "api/v1/status", headers={"Authorization": f"Bearer {server.admin_token}"}
        ).json()
        assert status["catalog_backend"] == "postgresql"
        assert httpx.get(server.url + "readyz").status_code == 200
    finally:
        server.stop()


def _wait_for_verified_backup(served: Served, deadline_s: float = 90) -> dict[str, object]:
    """Poll the API until the catalog target has a succeeded, verified, restore-tested run."""
    headers = {"Authorization": f"Bearer {served.admin_token}"}
    started = time.monotonic()
    while True:
        runs = httpx.get(served.url + "api/v1/backups/runs", headers=headers, timeout=5).json()
        done = [
            r
            for r in runs
            if r["target"] == "catalog"
            and r["status"] == "succeeded"
            and r["verify_status"] == "ok"
            and r["restore_test_status"] == "ok"
        ]
        if done:
            run: dict[str, object] = done[0]
            return run
        assert time.monotonic() - started < deadline_s, f"no verified backup of the catalog: {runs}"
        time.sleep(0.2)


def test_first_start_without_config_protects_the_catalog(tmp_path: Path) -> None:
    """No buttress.yaml: the first start writes a starter, says so once, generates a 0600 key
    and backs up and restore-tests the catalog right away; the API shows it and a disk check.
    The second start says nothing new, reuses the key and the starter."""
    data = tmp_path / "data"
    first = start_server(data)
    try:
        key = data / "backup-identity.txt"
        starter = data / "buttress.yaml"
        assert f"wrote a starter configuration to {starter.absolute()}" in first.announcement
        assert f"generated the backup key {key.absolute()} (0600)" in first.announcement
        assert "copy it somewhere safe" in first.announcement
        assert key.stat().st_mode & 0o777 == 0o600
        assert "AGE-SECRET-KEY-" not in first.announcement
        run = _wait_for_verified_backup(first)
        assert run["destinations"] == ["local"]
        assert any((data / "backups").rglob("*"))
        headers = {"Authorization": f"Bearer {first.admin_token}"}
        started = time.monotonic()
        while True:
            checks = httpx.get(first.url + "api/v1/health", headers=headers).json()["checks"]
            disk = [c for c in checks if c["name"] == "data-disk"]
            if disk and disk[0]["status"] != "unknown":
                break
            assert time.monotonic() - started < 60, checks
            time.sleep(0.2)
        assert disk[0]["status"] == "up"
    finally:
        assert first.stop() == 0
    key_text, starter_text = key.read_text(), starter.read_text()
    second = start_server(data)
    try:
        wait_healthy(second.url)
        assert "starter configuration" not in second.announcement
        assert "backup key" not in second.announcement
    finally:
        assert second.stop() == 0
    assert key.read_text() == key_text
    assert starter.read_text() == starter_text
    assert sorted(p.name for p in data.glob("*identity*")) == ["backup-identity.txt"]


def test_no_starter_when_a_config_is_given(tmp_path: Path) -> None:
    """--config (or ./buttress.yaml, BUTTRESS_CONFIG): no starter is written, no key made."""
    config = tmp_path / "b.yaml"
    config.write_text("server:\n  log_level: info\n")
    server = start_server(tmp_path / "data", env={"BUTTRESS_CONFIG": str(config)})
    try:
        wait_healthy(server.url)
        assert "starter configuration" not in server.announcement
    finally:
        server.stop()
    assert not (tmp_path / "data" / "buttress.yaml").exists()
    assert not (tmp_path / "data" / "backup-identity.txt").exists()
