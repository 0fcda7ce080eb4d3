"""`health:` in buttress.yaml: checks built from it, bad settings named with file and line;
`buttress health` (exit 1 when a critical check is down); /api/v1/health, /readyz and
/metrics on a served app whose critical check fails."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from buttress.catalog import Catalog, tokens
from buttress.cli import main
from buttress.config import load, load_text
from buttress.server.app import create_app
from tests.conftest import PG_ADMIN_DSN
from tests.health.conftest import Web

GOOD = f"""
health:
  window: 2
  checks:
    - {{name: db, type: postgresql, dsn: '{PG_ADMIN_DSN}', critical: true, weight: 3}}
    - {{name: queue, type: tcp, host: 127.0.0.1, port: 1, interval: 1s, timeout: 500ms}}
    - {{name: disk, type: disk, path: /, min_free_percent: 0}}
    - {{name: jobs, type: custom, callable: 'tests.health.test_health_config:jobs_ok'}}
"""


def jobs_ok() -> str:
    return "3 workers"


@pytest.mark.postgres  # PG_ADMIN_DSN in the config
def test_cli_runs_every_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "buttress.yaml").write_text(GOOD)
    assert main(["health", "--json"]) == 0  # only the non-critical tcp check is down
    snap = json.loads(capsys.readouterr().out)
    status = {c["name"]: c["status"] for c in snap["checks"]}
    assert status == {"db": "up", "queue": "down", "disk": "up", "jobs": "up"}
    assert snap["score"] == round(100 * 5 / 6, 1)
    assert main(["health"]) == 0
    out = capsys.readouterr().out
    assert "health score 83.3/100, ready" in out
    assert "3 workers" in out
    (tmp_path / "buttress.yaml").write_text(GOOD.replace("port: 1,", "port: 1, critical: true,"))
    assert main(["health"]) == 1
    assert "NOT READY" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("check", "message"),
    [
        ("{name: a, type: http}", "a http check needs `url`"),
        ("{name: a, type: tcp, host: h}", "a tcp check needs `port`"),
        ("{name: a, type: disk, path: /, interval: 1s, timeout: 5s}", "timeout (5s) is longer"),
        ("{name: a, type: custom, callable: nomodule}", "callable must be `module:function`"),
        (
            "{name: a, type: ping, host: h}",
            "unknown check type 'ping' (one of: postgresql, mariadb",
        ),
        ("{name: a, type: disk, path: /, weight: -1}", "greater than or equal to 0"),
    ],
)
def test_bad_checks_are_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    check: str, message: str,
) -> None:  # fmt: skip
    monkeypatch.chdir(tmp_path)
    (tmp_path / "buttress.yaml").write_text(f"health:\n  checks:\n    - {check}\n")
    assert main(["health"]) == 2
    err = capsys.readouterr().err
    assert "buttress.yaml:3:" in err
    assert message in err


def test_duplicate_and_unloadable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "buttress.yaml").write_text(
        "health:\n  checks:\n"
        "    - {name: a, type: disk, path: /}\n"
        "    - {name: a, type: disk, path: /}\n"
    )
    assert main(["health"]) == 2
    assert "check names must be unique: a declared twice" in capsys.readouterr().err
    (tmp_path / "buttress.yaml").write_text(
        "health:\n  checks:\n    - {name: a, type: custom, callable: 'no_such_mod:f'}\n"
    )
    assert main(["health"]) == 2
    assert "check a: cannot load 'no_such_mod:f'" in capsys.readouterr().err


@pytest.fixture
def served(tmp_path: Path, catalog: Catalog, web: Web) -> Iterator[tuple[TestClient, str, Web]]:
    (tmp_path / "buttress.yaml").write_text(
        "health:\n  window: 1\n  checks:\n"
        f"    - {{name: payments, type: http, url: '{web.url}', critical: true, interval: 100ms,"
        " timeout: 100ms}\n"
        "    - {name: disk, type: disk, path: /, min_free_percent: 0, interval: 100ms,"
        " timeout: 100ms}\n"
    )
    with catalog.begin() as session:
        token = tokens.create(session=session, name="v", role="viewer", created_by="t")[1]
    config = load(tmp_path / "buttress.yaml")
    with TestClient(create_app(catalog, config)) as client:
        yield client, token, web


def _wait(client: TestClient, ready: bool) -> None:
    deadline = time.monotonic() + 10
    while (client.get("/readyz").status_code == 200) != ready:
        assert time.monotonic() < deadline, f"/readyz never became ready={ready}"
        time.sleep(0.05)


def test_readyz_api_and_metrics_follow_a_critical_check(
    served: tuple[TestClient, str, Web],
) -> None:
    client, token, web = served
    _wait(client, ready=True)
    web.status = 503
    _wait(client, ready=False)
    body = client.get("/readyz").json()
    assert body["checks"]["payments"]["status"] == "down"
    assert "HTTP 503" in body["checks"]["payments"]["detail"]
    health = client.get("/api/v1/health", headers={"Authorization": f"Bearer {token}"}).json()
    assert health["ready"] is False
    assert health["score"] == 50.0
    assert {c["name"] for c in health["checks"]} == {"payments", "disk"}
    assert client.get("/api/v1/health").status_code == 401
    metrics = client.get("/metrics").text
    assert "buttress_health_score 50.0" in metrics
    assert 'buttress_health_check_up{check="payments"} 0.0' in metrics
    assert 'buttress_health_check_status{check="payments",status="down"} 1.0' in metrics
    web.status = 200
    _wait(client, ready=True)


def test_health_says_whether_degradation_is_configured(catalog: Catalog) -> None:
    """GET /api/v1/health says `degradation: false` when no levels are configured (and
    /api/v1/level is 404), `true` when they are: the dashboard asks /level only then."""
    with catalog.begin() as session:
        token = tokens.create(session=session, name="v", role="viewer", created_by="t")[1]
    levels = "health:\n  degradation: {levels: traffic_light}\n"
    for text, configured in (("{}\n", False), (levels, True)):
        app = create_app(catalog, load_text(text, env={}))
        with TestClient(app) as client:
            auth = {"Authorization": f"Bearer {token}"}
            assert client.get("/api/v1/health", headers=auth).json()["degradation"] is configured
            level = client.get("/api/v1/level", headers=auth).status_code
            assert level == (200 if configured else 404)
