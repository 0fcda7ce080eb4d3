"""Captured output is bounded (head and tail kept, the cut noted) and its secrets masked."""

from __future__ import annotations

from pathlib import Path

import pytest

from buttress.config import load
from tests.runbooks.helpers import config, engine, runbook_yaml


def test_output_beyond_max_output_keeps_head_and_tail(tmp_path: Path) -> None:
    """A command writing 1 MB keeps max_output bytes: its start, its end, and what was cut."""
    steps = """\
    - name: loud
      command:
        argv: [python3, -c, "print('START' + 'x' * 1000000 + 'END')"]
        max_output: 1000
    """
    eng, rec = engine(config(tmp_path, runbook_yaml(steps)))
    assert eng.run("rb", {}, run_id="r") == "succeeded"
    output = rec.steps["0"].output
    assert output.startswith("START")
    assert output.rstrip().endswith("END")
    assert "[... 999,009 bytes cut ...]" in output
    assert len(output) < 1100


def test_a_secret_from_the_environment_is_masked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A secret-named variable's value printed by a step is *** in its output and values."""
    monkeypatch.setenv("DB_PASSWORD", "hunter2-secret")
    steps = "- name: leak\n  command: {shell: true, script: 'echo pw=$DB_PASSWORD'}\n"
    eng, rec = engine(config(tmp_path, runbook_yaml(steps)))
    assert eng.run("rb", {}, run_id="r") == "succeeded"
    assert rec.steps["0"].output == "pw=***\n"
    assert "hunter2" not in repr(rec.steps["0"].values)


def test_a_step_env_secret_and_a_dsn_password_are_masked(tmp_path: Path) -> None:
    """A step's own secret env value, and a DSN password in output, are masked."""
    steps = """\
    - name: leak
      command:
        shell: true
        script: 'echo $API_TOKEN postgresql://app:s3cr3tpw@db/app'
        env: {API_TOKEN: tok-abcdef}
    """
    eng, rec = engine(config(tmp_path, runbook_yaml(steps)))
    assert eng.run("rb", {}, run_id="r") == "succeeded"
    assert rec.steps["0"].output == "*** postgresql://app:***@db/app\n"


def test_a_secret_from_a_config_variable_is_masked(tmp_path: Path) -> None:
    """A `${VAR}` with a secret name substituted into a step is masked in what it prints,
    though the variable is not in the process's environment."""
    steps = "- name: leak\n  command: {argv: [echo, 'token ${OPS_API_TOKEN}']}\n"
    path = tmp_path / "buttress.yaml"
    path.write_text(runbook_yaml(steps))
    cfg = load(path, env={"OPS_API_TOKEN": "zq-very-private"})
    eng, rec = engine(cfg)
    assert eng.run("rb", {}, run_id="r") == "succeeded"
    assert rec.steps["0"].output == "token ***\n"
