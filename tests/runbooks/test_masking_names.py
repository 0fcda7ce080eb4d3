"""What a run masks, by the names the secrets come under: a secret-named parameter's value,
an environment variable such as DB_PASS; and what it does not: the working directory (PWD)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.runbooks.helpers import config, engine, runbook_yaml


def test_secret_names_are_masked_and_the_working_directory_is_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`db_pass` (a parameter) and `$DB_PASS` (the environment) print as ***; the cwd shows."""
    monkeypatch.setenv("DB_PASS", "EnvPassValue99")
    monkeypatch.chdir(tmp_path)
    cfg = config(
        tmp_path,
        runbook_yaml(
            """\
            - name: show
              command:
                shell: true
                script: 'echo param={{ params.db_pass }} env=$DB_PASS here=$PWD'
            """,
            extra="params: {db_pass: {type: str}}\n",
        ),
    )
    runner, recorder = engine(cfg)
    status = runner.run(cfg.runbooks.get("rb"), {"db_pass": "ParamSecret77"}, run_id="1")
    assert status == "succeeded"
    (step,) = recorder.steps.values()
    assert "ParamSecret77" not in step.output + repr(step.values)
    assert "EnvPassValue99" not in step.output + repr(step.values)
    assert f"param=*** env=*** here={Path.cwd()}" in step.output
