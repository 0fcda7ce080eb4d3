"""A step's `retry:` (a resilience Retry) runs a failed step again until it succeeds."""

from __future__ import annotations

from pathlib import Path

from tests.runbooks.helpers import config, engine, runbook_yaml


def test_a_step_failing_twice_succeeds_on_the_third_attempt(tmp_path: Path) -> None:
    """A command that fails until its third run succeeds with attempts: 3, recorded as 3."""
    counter = tmp_path / "n"
    steps = f"""\
    - name: flaky
      retry: {{attempts: 3, backoff: constant, delay: 10ms}}
      command:
        shell: true
        script: "echo x >> {counter}; test $(wc -l < {counter}) -ge 3"
    """
    eng, rec = engine(config(tmp_path, runbook_yaml(steps)))
    assert eng.run("rb", {}, run_id="r") == "succeeded"
    assert rec.steps["0"].attempts == 3
    assert counter.read_text().count("x") == 3


def test_retries_that_run_out_fail_the_step(tmp_path: Path) -> None:
    """When every attempt fails, the step fails after `attempts` tries."""
    steps = "- name: never\n  retry: {attempts: 2, delay: 1ms}\n  command: {argv: ['false']}\n"
    eng, rec = engine(config(tmp_path, runbook_yaml(steps)))
    assert eng.run("rb", {}, run_id="r") == "failed"
    assert rec.steps["0"].attempts == 2
    assert rec.steps["0"].error == "exit code 1 (accepted: 0)"
