"""A dry run resolves everything and shows what would run, and changes nothing."""

from __future__ import annotations

from pathlib import Path

from tests.runbooks.helpers import config, engine, runbook_yaml


def test_a_command_that_would_create_a_file_creates_none(tmp_path: Path) -> None:
    """Planning a `touch` step shows the rendered argv; the file is not created."""
    target = tmp_path / "created"
    steps = "- name: make\n  command: {argv: [touch, '{{ params.where }}']}\n"
    extra = f"params:\n  where: {{type: str, default: '{target}'}}\n"
    eng, rec = engine(config(tmp_path, runbook_yaml(steps, extra=extra)))
    (planned,) = eng.plan("rb", {})
    assert planned.action == f"touch {target}"
    assert planned.detail["argv"] == ["touch", str(target)]
    assert planned.problems == []
    assert not target.exists()
    assert rec.order == []


def test_later_values_show_as_placeholders(tmp_path: Path) -> None:
    """A template reading an earlier step's value shows where the value will go."""
    steps = (
        "- name: a\n  command: {argv: [echo, hi]}\n"
        "- name: b\n  command: {argv: [echo, '{{ steps.a.stdout }}']}\n"
    )
    eng, _ = engine(config(tmp_path, runbook_yaml(steps)))
    assert eng.plan("rb", {})[1].action == "echo '<steps.a.stdout>'"
