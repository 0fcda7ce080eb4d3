"""A confirm step nobody answers: its default applies when the timeout passes, and is recorded."""

from __future__ import annotations

from pathlib import Path

from tests.runbooks.helpers import config, engine, runbook_yaml


def test_no_answer_refuses_by_default(tmp_path: Path) -> None:
    """Without a `default`, no answer is a refusal: the step fails, recorded as defaulted."""
    cfg = config(
        tmp_path, runbook_yaml("- name: go\n  confirm: {prompt: 'Fail over?', timeout: 0.1}\n")
    )
    eng, rec = engine(cfg)
    assert eng.run("rb", {}, run_id="r") == "failed"
    step = rec.steps["0"]
    assert step.status == "failed"
    assert step.confirmation is not None
    assert step.confirmation.defaulted
    assert not step.confirmation.approved
    assert "default (refuse) applies" in (step.error or "")


def test_default_approve_lets_the_run_go_on(tmp_path: Path) -> None:
    """`default: approve` with no answer succeeds, and the record says it was the default."""
    steps = (
        "- name: go\n  confirm: {prompt: 'Go?', timeout: 0.1, default: approve}\n"
        "- name: after\n  command: {argv: [echo, '{{ steps.go.actor }}']}\n"
    )
    eng, rec = engine(config(tmp_path, runbook_yaml(steps)))
    assert eng.run("rb", {}, run_id="r") == "succeeded"
    assert rec.steps["0"].values == {"approved": True, "actor": "default", "defaulted": True}
    assert rec.steps["1"].output == "default\n"


def test_an_answer_is_used(tmp_path: Path) -> None:
    """A person's refusal fails the step naming who refused."""
    eng, rec = engine(
        config(tmp_path, runbook_yaml("- name: go\n  confirm: {prompt: 'Go?'}\n")), go=False
    )
    assert eng.run("rb", {}, run_id="r") == "failed"
    assert rec.steps["0"].error == "refused by test"
