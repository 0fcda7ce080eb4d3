"""Degradation levels in an application's own process: the flags there follow this process's
metrics and the overrides `buttress level set` writes to the shared catalog."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from buttress import flags
from buttress.cli import main
from buttress.config import load
from buttress.degradation.embed import start_degradation
from tests.conftest import wait_until


@pytest.fixture(autouse=True)
def reset_flags() -> Iterator[None]:
    yield
    flags.publish(None, frozenset(), {})


def test_the_app_process_follows_the_catalogs_override(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pg_database: str
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "buttress.yaml").write_text(
        f"catalog: {{url: '{pg_database}'}}\n"
        "health:\n  degradation:\n    evaluate_every: 100ms\n    for: 0s\n"
        "    features: [recommendations]\n"
        "    level: {YELLOW: {when: {error_rate: 50}, disable: [recommendations]}}\n"
    )
    assert main(["db", "upgrade"]) == 0
    embedded = start_degradation(load(tmp_path / "buttress.yaml"))
    try:
        wait_until(lambda: flags.level() == "GREEN", "the controller to start")
        for _ in range(10):
            embedded.controller.requests.record(0.01, error=True)  # this process's requests fail
        wait_until(lambda: not flags.enabled("recommendations"), "YELLOW from the error rate")
        assert main(["level", "set", "RED", "--for", "5m", "--reason", "drill"]) == 0
        wait_until(lambda: flags.level() == "RED", "the override written by the CLI")
        assert main(["level", "clear"]) == 0
        wait_until(lambda: flags.level() == "YELLOW", "the override's end")
    finally:
        embedded.stop()
    assert not embedded._thread.is_alive()


def test_without_degradation_it_says_so(tmp_path: Path) -> None:
    (tmp_path / "buttress.yaml").write_text("health: {}\n")
    with pytest.raises(Exception, match="no degradation levels configured"):
        start_degradation(config_path=tmp_path / "buttress.yaml")


@pytest.mark.parametrize("backend", ["default-sqlite", "postgresql"])
def test_an_override_already_in_force_is_the_first_answer_and_later_ones_follow(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
    backend: str,
) -> None:
    """On the default SQLite catalog as on PostgreSQL: the first read after start reflects the
    override the CLI set before, and the next set and clear reach the app's flags."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BUTTRESS_DATA_DIR", raising=False)
    catalog = (
        f"catalog: {{url: '{request.getfixturevalue('pg_database')}'}}\n"
        if backend == "postgresql"
        else ""
    )
    (tmp_path / "buttress.yaml").write_text(
        catalog + "health:\n  degradation:\n    evaluate_every: 100ms\n"
        "    features: [recommendations]\n"
        "    level: {YELLOW: {disable: [recommendations]}, ORANGE: {}}\n"
    )
    assert main(["db", "upgrade"]) == 0
    assert main(["level", "set", "ORANGE", "--for", "5m", "--reason", "failover"]) == 0
    embedded = start_degradation(load(tmp_path / "buttress.yaml"))
    try:
        assert flags.level() == "ORANGE"  # the first read, before any evaluation round
        assert not flags.enabled("recommendations")
        assert main(["level", "clear"]) == 0
        wait_until(lambda: flags.level() == "GREEN", "the override's end")
        assert flags.enabled("recommendations")
        assert main(["level", "set", "YELLOW", "--for", "5m", "--reason", "drill"]) == 0
        wait_until(lambda: flags.level() == "YELLOW", "the override written by the CLI")
        assert not flags.enabled("recommendations")
    finally:
        embedded.stop()


def test_without_a_catalog_it_says_overrides_are_not_followed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """No SQLite catalog in the data directory: a warning names the path, none is created."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BUTTRESS_DATA_DIR", raising=False)
    (tmp_path / "buttress.yaml").write_text("health:\n  degradation: {evaluate_every: 100ms}\n")
    embedded = start_degradation(load(tmp_path / "buttress.yaml"), checks=False)
    embedded.stop()
    assert "no catalog at .buttress/catalog.db" in caplog.text
    assert not (tmp_path / ".buttress").exists()


def test_an_unknown_feature_is_off_with_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Once a controller runs, a feature name it does not know answers False and warns once."""
    assert flags.enabled("nonexistent_feature")  # no controller yet: every feature is on
    (tmp_path / "buttress.yaml").write_text(
        "health:\n  degradation:\n    features: [recommendations]\n"
    )
    embedded = start_degradation(load(tmp_path / "buttress.yaml"), overrides=False)
    try:
        assert flags.enabled("recommendations")
        assert not flags.enabled("nonexistent_feature")
        assert not flags.enabled("nonexistent_feature")
        warnings = [r for r in caplog.records if "nonexistent_feature" in r.getMessage()]
        assert len(warnings) == 1
        assert "health.degradation.features: recommendations" in warnings[0].getMessage()
    finally:
        embedded.stop()
