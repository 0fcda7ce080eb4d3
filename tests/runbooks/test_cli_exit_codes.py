"""``buttress runbook`` exit codes: 0 succeeded, 1 failed, 2 bad input; list, show and dry
runs print what a newcomer needs."""

from __future__ import annotations

import json
from pathlib import Path

from tests.runbooks.cli_support import site


def test_exit_codes(tmp_path: Path) -> None:
    """A run that succeeds exits 0, one that fails 1, an unknown runbook or a bad parameter 2."""
    here = site(tmp_path)
    ok = here.run("run", "nap")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "run 1: succeeded" in ok.stdout
    failed = here.run("run", "broken")
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "run 2: failed" in failed.stdout
    unknown = here.run("run", "nope")
    assert unknown.returncode == 2
    assert "no runbook 'nope'" in unknown.stderr
    bad = here.run("run", "nap", "--param", "seconds=lots")
    assert bad.returncode == 2, bad.stderr
    assert "seconds" in bad.stderr
    malformed = here.run("run", "nap", "--param", "seconds")
    assert malformed.returncode == 2
    assert "NAME=VALUE" in malformed.stderr
    not_resumable = here.run("resume", "1")
    assert not_resumable.returncode == 2
    assert "only a failed or interrupted run" in not_resumable.stderr


def test_a_dry_run_shows_the_plan_and_runs_nothing(tmp_path: Path) -> None:
    """--dry-run lists each step as planned (the engine's own tests check it changes nothing),
    records a dry run, exits 0."""
    here = site(tmp_path)
    done = here.run("run", "nap", "--dry-run", "--param", "seconds=5")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "step 0 first (command): echo hello" in done.stdout
    assert "step 1 sleep (command): sleep 5" in done.stdout
    assert "dry run 1: succeeded" in done.stdout
    (run,) = json.loads(here.run("runs", "--json").stdout)
    assert run["dry_run"]
    assert run["status"] == "succeeded"


def test_list_and_show(tmp_path: Path) -> None:
    """list names every runbook with its role; show gives its parameters and steps."""
    here = site(tmp_path)
    listed = json.loads(here.run("list", "--json").stdout)
    assert [r["name"] for r in listed] == ["nap", "solo", "broken", "ask"]
    assert listed[1]["exclusive"]
    shown = here.run("show", "nap")
    assert shown.returncode == 0, shown.stderr
    assert "param seconds: int (default 0)" in shown.stdout
    assert "sleep" in shown.stdout


def test_show_lists_rollback_steps_and_choices(tmp_path: Path) -> None:
    """A step's own rollback steps and the runbook's, by path; a choice's values."""
    text = (
        "runbooks:\n  definitions:\n    - name: undo\n"
        "      params: {mode: {type: choice, choices: [fast, safe], default: fast}}\n"
        "      steps:\n        - name: make\n          command: {argv: ['true']}\n"
        "          rollback: [{name: unmake, command: {argv: ['true']}}]\n"
        "      rollback: [{name: final, command: {argv: ['true']}}]\n"
    )
    shown = site(tmp_path, text).run("show", "undo")
    assert shown.returncode == 0, shown.stderr
    assert "param mode: choice of fast, safe (default fast)" in shown.stdout
    for path, name in (("0", "make"), ("0.rollback.0", "unmake"), ("rollback.0", "final")):
        cells = [[c.strip() for c in row.split("│")[1:3]] for row in shown.stdout.splitlines()]
        assert [path, name] in cells, shown.stdout
