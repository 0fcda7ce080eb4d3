"""A DSN's password, in every form libpq accepts, appears nowhere a served control plane
writes or answers: not in the destination, the catalog file, the logs, any API response or
`config show` (issue 15, item 2)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
import pytest

from buttress.backup.service import Backups
from buttress.backup.tables import BackupRun
from buttress.catalog import Catalog
from buttress.catalog.tables import utcnow
from buttress.cli import main
from buttress.config import load
from tests.backup.conftest import config_file, recipient
from tests.conftest import start_server

SECRET = "Sekr3t-Zq7 w0rds\\'x"  # a blank, a quote and a backslash: libpq's hard cases


def _forms(database: str) -> dict[str, str]:
    """The same server and database in each DSN form, each with SECRET (or a piece of it)."""
    plain = SECRET.split(" ")[0]
    kw = f"host=127.0.0.1 port=5432 user=postgres dbname={database}"
    enc = quote(SECRET, safe="")
    return {
        "spaced": f"host=127.0.0.1 user=postgres password = {plain} dbname={database}",
        "quoted": f"{kw} password='" + SECRET.replace("\\", "\\\\").replace("'", "\\'") + "'",
        "escaped": kw + " password=" + "".join("\\" + c if c in " '\\" else c for c in SECRET),
        "uri": f"postgresql://postgres:{enc}@127.0.0.1:5432/{database}",
        "hosts": f"postgres://postgres:{enc}@127.0.0.1:5432,127.0.0.1:5432/{database}",
        "query": f"postgresql://postgres@127.0.0.1:5432/{database}?password={enc}",
        "down": f"host=127.0.0.1 port=1 user=postgres password = {plain} connect_timeout=2",
    }


def _pieces() -> list[str]:
    """What must not show: the secret, each word of it, and its percent-encoded form."""
    return [SECRET, quote(SECRET, safe=""), *SECRET.split(" ")]


def _assert_clean(where: str, data: bytes | str) -> None:
    text = data if isinstance(data, str) else data.decode("latin-1")
    for piece in _pieces():
        assert piece not in text, f"{piece!r} shown in {where}"


def _wait(url: str, headers: dict[str, str], backup_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while True:
        run: dict[str, Any] = httpx.get(
            f"{url}api/v1/backups/runs/{backup_id}", headers=headers
        ).json()
        if run["status"] != "running":
            return run
        assert time.monotonic() < deadline, run
        time.sleep(0.1)


def test_no_dsn_secret_reaches_disk_logs_or_api(
    project: Path, pg_database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Back up the same database through each DSN form with a served control plane, one form
    failing to connect; then every file of the destination and of the data directory (the
    SQLite catalog), the server's log, every API answer and `config show` are free of it."""
    database = urlsplit(pg_database).path.strip("/")
    forms = _forms(database)
    targets = "".join(
        f"    - {{name: {name}, source: postgresql, globals: false, dsn: {json.dumps(dsn)}}}\n"
        for name, dsn in forms.items()
    )
    (project / "buttress.yaml").write_text(
        "backup:\n"
        f"  recipients: [{recipient(project)}]\n"
        "  identity_files: [key.txt]\n"
        "  destinations:\n"
        "    - {name: local, path: repo}\n"
        "  targets:\n" + targets
    )
    capsys.readouterr()
    assert main(["config", "show"]) == 0
    assert main(["config", "show", "--format", "json"]) == 0
    shown = capsys.readouterr()
    _assert_clean("config show", shown.out + shown.err)
    assert "password = ***" in shown.out

    server = start_server(project / "data", env={"BUTTRESS_CONFIG": str(project / "buttress.yaml")})
    try:
        assert server.admin_token is not None
        headers = {"Authorization": f"Bearer {server.admin_token}"}
        answers: list[tuple[str, str]] = []
        for name in forms:
            started = httpx.post(f"{server.url}api/v1/backups/targets/{name}/run", headers=headers)
            assert started.status_code == 202, started.text
            answers.append((f"run {name}", started.text))
            run = _wait(server.url, headers, started.json()["id"])
            assert run["status"] == ("failed" if name == "down" else "succeeded"), run
            if name != "down":
                assert run["detail"]["source"]["database"] == database
                assert run["detail"]["source"]["user"] == "postgres"
                assert "describe" not in run["detail"]["source"]
        runs = httpx.get(f"{server.url}api/v1/backups/runs", headers=headers)
        answers.append(("runs", runs.text))
        for run in runs.json():
            shown_run = httpx.get(f"{server.url}api/v1/backups/runs/{run['id']}", headers=headers)
            answers.append((f"show {run['id']}", shown_run.text))
        for path in ("backups/targets", "status", "audit", "health", "level"):
            answers.append((path, httpx.get(f"{server.url}api/v1/{path}", headers=headers).text))
        answers.append(("metrics", httpx.get(f"{server.url}metrics").text))
    finally:
        server.stop()
    for where, text in answers:
        _assert_clean(where, text)
    _assert_clean("server log", server.stderr_path.read_text())
    files = [p for d in (project / "repo", project / "data") for p in d.rglob("*") if p.is_file()]
    assert any(p.name == "manifest.json" for p in files)
    assert any(p.suffix == ".db" for p in files)  # the SQLite catalog
    for file in files:
        _assert_clean(str(file), file.read_bytes())


def test_runs_recorded_by_older_versions_show_no_dsn(project: Path, catalog: Catalog) -> None:
    """A catalog row written before this fix (the DSN in detail.source.describe and in the
    error, masked the old way) is shown without it."""
    leaked = f"host=db user=postgres password = {SECRET.split(' ')[0]} dbname=app"
    with catalog.begin() as session:
        session.add(
            BackupRun(
                id="20250101T000000Z-old",
                target="db",
                status="failed",
                started_at=utcnow(),
                error=f"postgresql {leaked}: connection refused",
                detail={"source": {"kind": "postgresql", "describe": f"postgresql {leaked}"}},
            )
        )
    config_file(project, recipient(project))
    backups = Backups(load(project / "buttress.yaml").backup, catalog)
    (run,) = backups.runs()
    _assert_clean("an old run", run.read().model_dump_json())
    assert run.detail["source"] == {"kind": "postgresql"}
    assert "connection refused" in run.error
