"""The dry run says when a command's program or working directory is missing."""

from __future__ import annotations

from pathlib import Path

from tests.runbooks.helpers import config, engine, runbook_yaml


def test_a_program_not_on_path_is_a_problem_of_its_step(tmp_path: Path) -> None:
    """A program that is nowhere on PATH is listed as that step's problem."""
    steps = (
        "- name: ok\n  command: {argv: [echo, hi]}\n"
        "- name: bad\n  command: {argv: [buttress-no-such-program, x]}\n"
    )
    eng, _ = engine(config(tmp_path, runbook_yaml(steps)))
    ok, bad = eng.plan("rb", {})
    assert ok.problems == []
    assert bad.action == "buttress-no-such-program x"
    assert bad.problems == ["program 'buttress-no-such-program' is not on PATH"]


def test_a_path_that_is_not_executable_and_a_missing_cwd(tmp_path: Path) -> None:
    """A program path without the execute bit, and a missing cwd, are both listed."""
    script = tmp_path / "s.sh"
    script.write_text("#!/bin/sh\n")
    steps = f"- name: bad\n  command: {{argv: [{script}], cwd: {tmp_path / 'nope'}}}\n"
    eng, _ = engine(config(tmp_path, runbook_yaml(steps)))
    (planned,) = eng.plan("rb", {})
    assert planned.problems == [
        f"program '{script}' is not executable",
        f"working directory '{tmp_path / 'nope'}' does not exist",
    ]
