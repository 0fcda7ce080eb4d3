"""Degradation levels served: the level follows the health score, /api/v1/level explains it,
overrides through the API (audited) and through the catalog (as the CLI and other replicas
write them) are followed, /api/v1/flags and /metrics agree; `buttress level` and `buttress
flags` on the command line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from buttress import flags
from buttress.catalog import Catalog, tokens
from buttress.cli import main
from buttress.config import load
from buttress.degradation import overrides
from buttress.server.app import create_app
from tests.conftest import wait_until

CONFIG = """
health:
  window: 1
  checks:
    - {name: payments, type: tcp, host: 127.0.0.1, port: 1, interval: 100ms, timeout: 100ms}
  degradation:
    evaluate_every: 100ms
    for: 0s
    cooldown: 1s
    features: [recommendations, exports, checkout]
    limits: {orders_per_minute: 5000}
    level:
      YELLOW: {when: {health_score: 60}, disable: [recommendations]}
      ORANGE: {disable: [exports], limits: {orders_per_minute: 500}}
      RED: {enable_only: [checkout]}
"""


@pytest.fixture
def served(tmp_path: Path, catalog: Catalog) -> Iterator[tuple[TestClient, dict[str, str]]]:
    (tmp_path / "buttress.yaml").write_text(CONFIG)
    made = {}
    with catalog.begin() as session:
        for role in ("operator", "viewer"):
            made[role] = tokens.create(session=session, name=role, role=role, created_by="t")[1]
    try:
        with TestClient(create_app(catalog, load(tmp_path / "buttress.yaml"))) as client:
            yield client, made
    finally:
        flags.publish(None, frozenset(), {})


def _h(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_level_follows_health_overrides_and_flags(
    served: tuple[TestClient, dict[str, str]], catalog: Catalog
) -> None:
    c, t = served

    def level() -> dict[str, Any]:
        body: dict[str, Any] = c.get("/api/v1/level", headers=_h(t["viewer"])).json()
        return body

    wait_until(lambda: level()["level"] == "YELLOW", "YELLOW from a health score of 0")
    snap = level()
    assert snap["reasons"] == ["health_score < 60"]
    assert snap["features"] == {"checkout": True, "exports": True, "recommendations": False}
    assert not flags.enabled("recommendations")  # the process's own flags follow
    bad = c.post(
        "/api/v1/level/override", json={"level": "PURPLE", "for": "10m", "reason": "x"},
        headers=_h(t["operator"]),
    )  # fmt: skip
    assert bad.status_code == 422
    assert "the levels are GREEN, YELLOW, ORANGE, RED" in bad.json()["message"]
    viewer = c.post(
        "/api/v1/level/override", json={"level": "RED", "for": "10m", "reason": "x"},
        headers=_h(t["viewer"]),
    )  # fmt: skip
    assert viewer.status_code == 403
    ok = c.post(
        "/api/v1/level/override", json={"level": "ORANGE", "for": "10m", "reason": "db failover"},
        headers=_h(t["operator"]),
    )  # fmt: skip
    assert ok.status_code == 200, ok.text
    assert level()["level"] == "ORANGE"
    assert level()["automatic"] == "YELLOW"
    assert flags.limit("orders_per_minute") == 500
    flag_view = c.get("/api/v1/flags", headers=_h(t["viewer"])).json()
    assert flag_view["features"]["exports"] is False
    metrics = c.get("/metrics").text
    assert "buttress_degradation_level 2.0" in metrics
    assert 'buttress_degradation_level_info{automatic="YELLOW",level="ORANGE"} 1.0' in metrics
    assert 'buttress_feature_enabled{feature="exports"} 0.0' in metrics
    assert c.delete("/api/v1/level/override", headers=_h(t["operator"])).status_code == 200
    assert level()["level"] == "YELLOW"
    # an override written to the catalog by someone else (the CLI, another replica)
    with catalog.begin() as session:
        overrides.create(session=session, level="RED", reason="drill", seconds=600, actor="cli:x")
    wait_until(lambda: level()["level"] == "RED", "the catalog's override")
    assert level()["override"]["actor"] == "cli:x"
    assert flags.enabled("checkout")
    assert not flags.enabled("exports")
    with catalog.begin() as session:
        overrides.clear(session=session, actor="cli:x")
    wait_until(lambda: level()["level"] == "YELLOW", "the override's end")
    history = level()["override_history"]
    assert [(r["level"], r["cleared_by"]) for r in history] == [
        ("RED", "cli:x"),
        ("ORANGE", history[1]["actor"]),
    ]
    audit = c.get("/api/v1/audit", headers=_h(t["operator"]))
    assert audit.status_code == 403  # admins read the audit log


def test_without_degradation_the_endpoints_say_so(tmp_path: Path, catalog: Catalog) -> None:
    with catalog.begin() as session:
        token = tokens.create(session=session, name="v", role="viewer", created_by="t")[1]
    with TestClient(create_app(catalog)) as c:
        answer = c.get("/api/v1/level", headers=_h(token))
    assert answer.status_code == 404
    assert "health.degradation" in answer.json()["message"]


def test_level_and_flags_on_the_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "buttress.yaml").write_text(CONFIG)
    assert main(["level", "show"]) == 0
    out = capsys.readouterr().out
    assert "1 YELLOW       health_score < 60" in out
    assert "in force: no override holds" in out
    assert main(["level", "set", "PURPLE", "--reason", "x"]) == 2
    assert "the levels are GREEN, YELLOW, ORANGE, RED" in capsys.readouterr().err
    assert main(["level", "set", "ORANGE", "--for", "30m"]) == 2
    assert "--reason" in capsys.readouterr().err
    assert main(["level", "set", "ORANGE", "--for", "soon", "--reason", "x"]) == 2
    assert "--for" in capsys.readouterr().err
    assert main(["level", "set", "ORANGE", "--for", "30m", "--reason", "db failover"]) == 0
    assert "level ORANGE until" in capsys.readouterr().out
    assert main(["level", "show", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["override"]["level"] == "ORANGE"
    assert shown["override"]["reason"] == "db failover"
    assert main(["level", "clear"]) == 0
    assert "cleared 1 override(s)" in capsys.readouterr().out
    assert main(["flags", "list"]) == 0
    out = capsys.readouterr().out
    assert "recommendations" in out
    assert "limits at ORANGE: orders_per_minute=500" in out
    assert main(["flags", "list", "--json"]) == 0
    table = json.loads(capsys.readouterr().out)
    assert table["RED"]["features"] == {
        "checkout": True, "exports": False, "recommendations": False,
    }  # fmt: skip
    (tmp_path / "buttress.yaml").write_text("health: {}\n")
    assert main(["level", "show"]) == 2
    assert "no degradation levels configured" in capsys.readouterr().err


def test_the_servers_first_answer_reflects_an_override_already_in_force(
    tmp_path: Path, catalog: Catalog
) -> None:
    """An override written before the app is built is in the flags before any evaluation."""
    (tmp_path / "buttress.yaml").write_text(CONFIG)
    with catalog.begin() as session:
        overrides.create(session=session, level="RED", reason="failover", seconds=600, actor="t")
    try:
        create_app(catalog, load(tmp_path / "buttress.yaml"))
        assert flags.level() == "RED"
        assert flags.enabled("checkout")
        assert not flags.enabled("recommendations")
    finally:
        flags.publish(None, frozenset(), {})
