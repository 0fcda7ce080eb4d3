"""A step's `when:` decides whether it runs: false skips it (recorded as skipped)."""

from __future__ import annotations

from pathlib import Path

from tests.runbooks.helpers import config, engine, runbook_yaml


def test_a_false_condition_skips_and_a_true_one_runs(tmp_path: Path) -> None:
    """`when: params.force` skips the step unless force is true; a template form works too."""
    steps = """\
    - name: probe
      command: {argv: [echo, replica]}
    - name: forced
      when: params.force
      command: {argv: [echo, forced]}
    - name: on-replica
      when: "{{ 'replica' in steps.probe.stdout }}"
      command: {argv: [echo, promoted]}
    """
    extra = "params:\n  force: {type: bool, default: false}\n"
    eng, rec = engine(config(tmp_path, runbook_yaml(steps, extra=extra)))
    assert eng.run("rb", {}, run_id="r") == "succeeded"
    assert [rec.steps[p].status for p in ("0", "1", "2")] == ["succeeded", "skipped", "succeeded"]
    eng, rec = engine(config(tmp_path, runbook_yaml(steps, extra=extra)))
    assert eng.run("rb", {"force": "true"}, run_id="r") == "succeeded"
    assert rec.steps["1"].output == "forced\n"


def test_a_condition_that_cannot_be_evaluated_fails_the_step(tmp_path: Path) -> None:
    """A `when:` naming a step that has not run fails the step, saying why."""
    steps = (
        "- name: a\n  when: steps.later.ok\n  command: {argv: ['true']}\n"
        "- name: later\n  command: {argv: ['true']}\n"
    )
    eng, rec = engine(config(tmp_path, runbook_yaml(steps)))
    assert eng.run("rb", {}, run_id="r") == "failed"
    assert "when:" in (rec.steps["0"].error or "")
