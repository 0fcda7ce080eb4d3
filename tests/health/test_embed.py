"""Degradation levels in an application's own process: the flags there follow this process's
metrics and the overrides `buttress level set` writes to the shared catalog."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from buttress import flags
from buttress.cli import main
from buttress.config import load
from buttress.health.embed import start_degradation
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
