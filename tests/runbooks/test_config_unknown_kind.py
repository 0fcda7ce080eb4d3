"""A step with an unknown kind key, or with no kind, is an error at its file and line."""

from __future__ import annotations

from pathlib import Path

from tests.runbooks.helpers import issues, runbook_yaml


def test_a_misspelt_kind_names_the_line_and_suggests_the_kind(tmp_path: Path) -> None:
    """`comand:` is reported at its line with "did you mean 'command'"."""
    found = issues(tmp_path, runbook_yaml("- name: one\n  comand: {argv: [true]}\n"))
    assert len(found) == 1
    assert found[0].startswith(f"{tmp_path / 'buttress.yaml'}:6:")
    assert "unknown key 'comand'" in found[0]
    assert "did you mean 'command'" in found[0]


def test_a_step_with_no_kind_lists_the_kinds(tmp_path: Path) -> None:
    """A step with only a name says it needs one of the kinds, at the step's line."""
    found = issues(tmp_path, runbook_yaml("- name: one\n  timeout: 5s\n"))
    assert len(found) == 1
    assert ":5:" in found[0]
    assert "exactly one of: command, http, sql, action, check, confirm, wait" in found[0]


def test_two_kinds_in_one_step_are_refused(tmp_path: Path) -> None:
    """A step with both `command` and `wait` is an error naming both."""
    found = issues(
        tmp_path, runbook_yaml("- name: one\n  command: {argv: [ls]}\n  wait: {seconds: 1}\n")
    )
    assert "has command, wait" in found[0]


def test_a_shell_line_needs_shell_true_written_out(tmp_path: Path) -> None:
    """`script:` without `shell: true` is refused: no shell unless asked."""
    found = issues(tmp_path, runbook_yaml("- name: one\n  command: {script: 'ls | wc'}\n"))
    assert "shell: true" in found[0]


def test_an_unknown_key_of_an_action_is_placed_at_its_line(tmp_path: Path) -> None:
    """A bad `with:` key of an action is an error at its line, with the action's keys."""
    found = issues(
        tmp_path,
        runbook_yaml("- name: one\n  action:\n    name: degradation.set\n    with: {levl: RED}\n"),
    )
    assert ":8:" in found[0]
    assert "did you mean 'level'" in found[0]


def test_an_unknown_action_name_suggests_the_close_one(tmp_path: Path) -> None:
    """`backup.rn` is reported at its line with "did you mean 'backup.run'"."""
    found = issues(
        tmp_path, runbook_yaml("- name: one\n  action: {name: backup.rn, with: {target: x}}\n")
    )
    assert ":6:26 " in found[0]
    assert "unknown action 'backup.rn' (did you mean 'backup.run'?)" in found[0]
