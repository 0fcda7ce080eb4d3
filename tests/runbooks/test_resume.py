"""A run resumed from a step path runs from there, with the values earlier steps produced."""

from __future__ import annotations

from pathlib import Path

import pytest

from buttress.runbooks.errors import RunbookError
from tests.runbooks.helpers import config, engine, runbook_yaml


def test_resume_skips_earlier_steps_and_reads_their_values(tmp_path: Path) -> None:
    """start_at="1": step 0 does not run, and step 1's template reads step 0's given value."""
    log = tmp_path / "log"
    steps = f"""\
    - name: first
      command: {{shell: true, script: 'echo first >> {log}'}}
    - name: second
      command: {{shell: true, script: 'echo "second {{{{ steps.first.stdout }}}}" >> {log}'}}
    """
    eng, rec = engine(config(tmp_path, runbook_yaml(steps)))
    status = eng.run("rb", {}, run_id="r", start_at="1", values={"first": {"stdout": "earlier"}})
    assert status == "succeeded"
    assert log.read_text() == "second earlier\n"
    assert rec.order == ["1"]


def test_a_failure_after_resume_rolls_back_the_earlier_steps_too(tmp_path: Path) -> None:
    """Steps before start_at that have values count as done: a failure rolls them back."""
    log = tmp_path / "log"
    steps = f"""\
    - name: first
      command: {{argv: ['true']}}
      rollback:
        - name: undo-first
          command: {{shell: true, script: 'echo undo-first >> {log}'}}
    - name: second
      command: {{argv: ['false']}}
    """
    eng, _ = engine(config(tmp_path, runbook_yaml(steps)))
    status = eng.run("rb", {}, run_id="r", start_at="1", values={"first": {"exit_code": 0}})
    assert status == "rolled_back"
    assert log.read_text() == "undo-first\n"


def test_an_unknown_start_path_is_refused(tmp_path: Path) -> None:
    """A start_at that names no step is a RunbookError listing the steps; nothing runs."""
    eng, rec = engine(config(tmp_path, runbook_yaml("- name: a\n  command: {argv: ['true']}\n")))
    with pytest.raises(RunbookError, match=r"no step '7' to start at"):
        eng.run("rb", {}, run_id="r", start_at="7")
    assert rec.order == []
