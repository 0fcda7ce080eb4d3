"""Finding the Prometheus tools: a missing one names the Debian package to install."""

from __future__ import annotations

import pytest

from buttress.alerting import tools


def test_missing_tool_names_its_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(tools.ToolMissingError, match="Debian package prometheus-alertmanager"):
        tools.find("amtool")
    with pytest.raises(tools.ToolMissingError, match=r"apt-get install prometheus\)"):
        tools.run("promtool", ["--version"])


def test_run_captures_a_failure_without_raising() -> None:
    result = tools.run("promtool", ["check", "rules", "/nonexistent/rules.yml"])
    assert not result.ok
    assert "/nonexistent/rules.yml" in result.output
    assert tools.run("promtool", ["--version"]).ok
