"""Templates are compiled when the file is loaded: a syntax error is a config error."""

from __future__ import annotations

from pathlib import Path

from tests.runbooks.helpers import issues, runbook_yaml


def test_a_template_syntax_error_names_its_line(tmp_path: Path) -> None:
    """An unclosed `{{` in an argv item is reported at that item's line."""
    found = issues(
        tmp_path, runbook_yaml("- name: one\n  command:\n    argv: [echo, '{{ params.x ']\n")
    )
    assert len(found) == 1
    assert ":7:" in found[0]
    assert "template syntax error" in found[0]


def test_a_bad_when_expression_is_an_error(tmp_path: Path) -> None:
    """A `when:` that is not an expression is refused at load."""
    found = issues(
        tmp_path, runbook_yaml("- name: one\n  when: 'params.x =='\n  wait: {seconds: 1}\n")
    )
    assert "when" in found[0]
    assert "template syntax error" in found[0]
