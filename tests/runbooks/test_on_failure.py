"""on_failure: continue goes on; abort rolls back what succeeded, latest first."""

from __future__ import annotations

from pathlib import Path

from tests.runbooks.helpers import config, engine, runbook_yaml


def echo(name: str, log: Path) -> str:
    return f"command: {{shell: true, script: 'echo {name} >> {log}'}}"


def test_continue_records_the_failure_and_goes_on(tmp_path: Path) -> None:
    """A failing step with on_failure: continue is failed, and the next step still runs."""
    log = tmp_path / "log"
    steps = (
        "- name: bad\n  on_failure: continue\n  command: {argv: ['false']}\n"
        f"- name: next\n  {echo('next', log)}\n"
    )
    eng, rec = engine(config(tmp_path, runbook_yaml(steps)))
    assert eng.run("rb", {}, run_id="r") == "succeeded"
    assert rec.steps["0"].status == "failed"
    assert rec.steps["1"].status == "succeeded"
    assert log.read_text() == "next\n"


def test_abort_rolls_back_succeeded_steps_in_reverse_then_the_runbook(tmp_path: Path) -> None:
    """After a failure: step b's rollback, then a's, then the runbook's; the failing step's own
    rollback does not run (abort); the run is rolled_back."""
    log = tmp_path / "log"
    steps = f"""\
    - name: a
      {echo("a", log)}
      rollback:
        - name: undo-a
          {echo("undo-a", log)}
    - name: b
      {echo("b", log)}
      rollback:
        - name: undo-b
          {echo("undo-b", log)}
    - name: c
      command: {{argv: ['false']}}
      rollback:
        - name: undo-c
          {echo("undo-c", log)}
    - name: d
      {echo("d", log)}
    """
    extra = f"rollback:\n  - name: final\n    {echo('final', log)}\n"
    eng, rec = engine(config(tmp_path, runbook_yaml(steps, extra=extra)))
    assert eng.run("rb", {}, run_id="r") == "rolled_back"
    assert log.read_text().split() == ["a", "b", "undo-b", "undo-a", "final"]
    assert rec.order == ["0", "1", "2", "1.rollback.0", "0.rollback.0", "rollback.0"]
    assert rec.status == "rolled_back"
    assert "step 'c'" in (rec.error or "")


def test_on_failure_rollback_also_undoes_the_failing_step(tmp_path: Path) -> None:
    """on_failure: rollback runs the failing step's own rollback first."""
    log = tmp_path / "log"
    steps = f"""\
    - name: a
      {echo("a", log)}
      rollback:
        - name: undo-a
          {echo("undo-a", log)}
    - name: c
      on_failure: rollback
      command: {{argv: ['false']}}
      rollback:
        - name: undo-c
          {echo("undo-c", log)}
    """
    eng, _ = engine(config(tmp_path, runbook_yaml(steps)))
    assert eng.run("rb", {}, run_id="r") == "rolled_back"
    assert log.read_text().split() == ["a", "undo-c", "undo-a"]


def test_a_failure_with_nothing_to_roll_back_fails_the_run(tmp_path: Path) -> None:
    """With no rollback steps anywhere, a failed step ends the run failed."""
    eng, rec = engine(config(tmp_path, runbook_yaml("- name: bad\n  command: {argv: ['false']}\n")))
    assert eng.run("rb", {}, run_id="r") == "failed"
    assert rec.status == "failed"


def test_rollback_of_a_finished_run(tmp_path: Path) -> None:
    """Engine.rollback undoes the given done steps, latest first, then the runbook's."""
    log = tmp_path / "log"
    steps = f"""\
    - name: a
      {echo("a", log)}
      rollback:
        - name: undo-a
          command: {{shell: true, script: 'echo undo-a {{{{ steps.a.exit_code }}}} >> {log}'}}
    - name: b
      {echo("b", log)}
      rollback:
        - name: undo-b
          {echo("undo-b", log)}
    """
    eng, rec = engine(config(tmp_path, runbook_yaml(steps)))
    status = eng.rollback(
        "rb", {}, run_id="r", done=["0", "1"], values={"a": {"exit_code": 0}, "b": {}}
    )
    assert status == "rolled_back"
    assert log.read_text().splitlines() == ["undo-b", "undo-a 0"]
    assert rec.order == ["1.rollback.0", "0.rollback.0"]
