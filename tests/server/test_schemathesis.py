"""schemathesis against the OpenAPI document of a served control plane: no 5xx, every
response as the document declares it (status, content type, schema). Bounded: a fixed number
of examples per operation and a fixed seed."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import Served, start_server

ROOT = Path(__file__).resolve().parents[2]
# CI's budget; BUTTRESS_FUZZ_EXAMPLES=200 digs deeper on a developer's machine
CHECKS = (
    "not_a_server_error,status_code_conformance,content_type_conformance,"
    "response_schema_conformance,response_headers_conformance"
)
EXAMPLES_PER_OPERATION = int(os.environ.get("BUTTRESS_FUZZ_EXAMPLES", "10"))


def _buttress(*args: str, cwd: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "buttress", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return done.stdout


@pytest.fixture
def fuzz_target(tmp_path: Path) -> Iterator[tuple[Served, str, Path]]:
    """A control plane with a directory target backed up once, degradation levels and two
    resilience policies (one with a breaker to force); all its
    files (site, repository, restores, catalog) live in the test's temporary directory."""
    recipient = _buttress("backup", "keygen", str(tmp_path / "key.txt"), cwd=tmp_path).strip()
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text("<h1>hi</h1>\n")
    config = tmp_path / "buttress.yaml"
    config.write_text(
        "backup:\n"
        f"  recipients: [{recipient}]\n"
        f"  identity_files: [{tmp_path / 'key.txt'}]\n"
        f"  destinations:\n    - {{name: local, path: {tmp_path / 'repo'}}}\n"
        f"  targets:\n    - {{name: site, source: directory, path: {site}}}\n"
        "health:\n  degradation:\n    levels: traffic_light\n"
        "resilience:\n  policies:\n"
        "    database: {retry: {attempts: 2}, circuit_breaker: {wait: 5s}, timeout: {seconds: 1}}\n"
        "    payments: {rate_limit: {rate: 5, per: 1s}, bulkhead: {max_concurrent: 2}}\n"
    )
    server = start_server(tmp_path / "data", env={"BUTTRESS_CONFIG": str(config)})
    try:
        assert server.admin_token is not None
        auth = {"Authorization": f"Bearer {server.admin_token}"}
        started = httpx.post(server.url + "api/v1/backups/targets/site/run", headers=auth)
        assert started.status_code == 202, started.text
        backup_id = started.json()["id"]
        deadline = time.monotonic() + 60
        while (
            httpx.get(server.url + f"api/v1/backups/runs/{backup_id}", headers=auth).json()[
                "status"
            ]
            == "running"
        ):
            assert time.monotonic() < deadline, "the first backup never finished"
            time.sleep(0.1)
        yield server, backup_id, tmp_path
    finally:
        server.stop()


# bounded by examples per operation, not by time: ~100 s on an idle two-core machine, more
# when CI runs other servers beside it; the subprocess's own limit stays below this one
@pytest.mark.timeout(600)
def test_schemathesis_finds_no_server_error_or_schema_violation(
    fuzz_target: tuple[Served, str, Path],
) -> None:
    """Every operation, fuzzed with a fixed budget, answers neither 5xx nor off the document."""
    server, backup_id, tmp_path = fuzz_target
    (tmp_path / "schemathesis.toml").write_text(
        f'[parameters]\nbackup_id = "{backup_id}"\nname = "site"\n'
    )
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        "SCHEMATHESIS_HOOKS": "tests.server.schemathesis_hooks",
        "BUTTRESS_FUZZ_ROOT": str(tmp_path),
    }
    result = subprocess.run(
        [
            str(Path(sys.executable).with_name("st")),
            "run",
            server.url + "api/openapi.json",
            "--header",
            f"Authorization: Bearer {server.admin_token}",
            "--checks",
            os.environ.get("BUTTRESS_FUZZ_CHECKS", CHECKS),
            "--max-examples",
            str(EXAMPLES_PER_OPERATION),
            "--seed",
            "15",
            "--workers",
            "1",
            "--generation-database",
            "none",
            "--no-color",
            "--report-dir",
            str(tmp_path / "report"),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=540,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-20000:] + result.stderr[-5000:]
    assert "generated" in result.stdout
    restores = list((tmp_path / "restores").glob("*"))
    print(f"schemathesis: {result.stdout.strip().splitlines()[-1]}; restores made: {len(restores)}")
