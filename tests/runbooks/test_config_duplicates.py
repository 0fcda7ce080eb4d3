"""Two runbooks of one name, wherever they are declared, are an error naming both places."""

from __future__ import annotations

from pathlib import Path

from tests.runbooks.helpers import issues

RUNBOOK = "- name: {name}\n  steps:\n    - {{name: s, wait: {{seconds: 1}}}}\n"


def test_a_name_in_two_files_names_both(tmp_path: Path) -> None:
    """The same runbook name in two included files is reported at the second, naming the first."""
    found = issues(
        tmp_path,
        "runbooks:\n  files: [a.yaml, b.yaml]\n",
        **{"a.yaml": RUNBOOK.format(name="x"), "b.yaml": "\n" + RUNBOOK.format(name="x")},
    )
    assert found == [
        f"{tmp_path / 'b.yaml'}:2:9 [0].name: duplicate runbook name 'x' "
        f"(also at {tmp_path / 'a.yaml'}:1)"
    ]


def test_a_file_repeating_an_inline_name_names_the_inline_place(tmp_path: Path) -> None:
    """An included runbook named like an inline one points at the inline one's line."""
    main = "runbooks:\n  files: [a.yaml]\n  definitions:\n" + "".join(
        "    " + line + "\n" for line in RUNBOOK.format(name="x").splitlines()
    )
    found = issues(tmp_path, main, **{"a.yaml": RUNBOOK.format(name="x")})
    assert f"(also at {tmp_path / 'buttress.yaml'}:4)" in found[0]


def test_two_inline_runbooks_of_one_name(tmp_path: Path) -> None:
    """Two inline runbooks of one name: the second's name line, naming the first's index."""
    main = "runbooks:\n  definitions:\n" + "".join(
        "    " + line + "\n" for line in (RUNBOOK.format(name="x") * 2).splitlines()
    )
    found = issues(tmp_path, main)
    assert len(found) == 1
    assert ":6:" in found[0]
    assert "duplicate runbook name 'x'" in found[0]


def test_two_steps_of_one_name(tmp_path: Path) -> None:
    """Step names are unique within a runbook."""
    main = (
        "runbooks:\n  definitions:\n    - name: r\n      steps:\n"
        "        - {name: s, wait: {seconds: 1}}\n        - {name: s, wait: {seconds: 2}}\n"
    )
    found = issues(tmp_path, main)
    assert ":6:" in found[0]
    assert "duplicate step name 's'" in found[0]


def test_a_rollback_step_named_like_a_step(tmp_path: Path) -> None:
    """A rollback step may not reuse a step's name (later templates read values by name)."""
    main = (
        "runbooks:\n  definitions:\n    - name: r\n      steps:\n"
        "        - name: s\n          wait: {seconds: 1}\n          rollback:\n"
        "            - {name: s, wait: {seconds: 2}}\n"
    )
    found = issues(tmp_path, main)
    assert ":8:" in found[0]
    assert "duplicate step name 's' (also steps[0])" in found[0]
