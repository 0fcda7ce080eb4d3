"""A template that reads a parameter the runbook does not declare, a step it does not have,
or uses a filter Jinja2 does not know, is an error when the file is loaded, at its line."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.runbooks.helpers import issues, runbook_yaml


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        ("['echo', '{{ params.hots }}']", "no parameter 'hots' (did you mean 'host'?)"),
        ("['echo', '{{ steps.fisrt.stdout }}']", "no step 'fisrt' (did you mean 'first'?)"),
        ("['echo', \"{{ steps['nope'].stdout }}\"]", "no step 'nope'"),
        ("['echo', '{{ params.host | nosuchfilter }}']", "No filter named 'nosuchfilter'"),
    ],
)
def test_a_bad_reference_is_an_error_at_its_line(tmp_path: Path, argv: str, said: str) -> None:
    """Named at the step's argv line, with a close name when there is one."""
    steps = (
        "- name: first\n  command: {argv: ['true']}\n"
        f"- name: second\n  command: {{argv: {argv}}}\n"
    )
    text = runbook_yaml(steps, extra="params: {host: {type: str}}\n")
    (issue,) = issues(tmp_path, text)
    assert said in issue
    line = next(n for n, row in enumerate(text.splitlines(), 1) if "name: second" in row) + 1
    assert f"buttress.yaml:{line}:" in issue
