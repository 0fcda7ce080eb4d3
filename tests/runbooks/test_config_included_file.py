"""Runbooks in the files `runbooks.files` names: loaded, and their errors name that file."""

from __future__ import annotations

from pathlib import Path

from tests.runbooks.helpers import config, issues

MAIN = """\
runbooks:
  files: [runbooks/*.yaml]
"""


def test_runbooks_of_an_included_list_file_are_loaded(tmp_path: Path) -> None:
    """A file holding a YAML list of runbooks adds them, found by `get`."""
    cfg = config(
        tmp_path,
        MAIN,
        **{"runbooks/a.yaml": "- name: restart\n  steps:\n    - {name: s, wait: {seconds: 1}}\n"},
    )
    runbook = cfg.runbooks.get("restart")
    assert runbook.steps[0].kind == "wait"
    assert runbook.where == f"{tmp_path / 'runbooks/a.yaml'}:1"


def test_a_mapping_file_with_runbooks_key_is_read_too(tmp_path: Path) -> None:
    """A file written as `runbooks: [...]` is read like a list file."""
    body = "runbooks:\n  - name: r2\n    steps:\n      - {name: s, wait: {seconds: 1}}\n"
    cfg = config(tmp_path, MAIN, **{"runbooks/b.yaml": body})
    assert [r.name for r in cfg.runbooks.all] == ["r2"]


def test_an_error_in_an_included_file_names_that_file_and_line(tmp_path: Path) -> None:
    """A wrong type on line 4 of an included file is reported as that file, line 4."""
    body = "- name: restart\n  steps:\n    - name: s\n      wait: {seconds: soon}\n"
    found = issues(tmp_path, MAIN, **{"runbooks/a.yaml": body})
    assert len(found) == 1
    assert found[0].startswith(f"{tmp_path / 'runbooks/a.yaml'}:4:")
    assert "invalid duration 'soon'" in found[0]


def test_invalid_yaml_in_an_included_file_names_it(tmp_path: Path) -> None:
    """Malformed YAML in an included file is reported at that file's line."""
    found = issues(tmp_path, MAIN, **{"runbooks/a.yaml": "- name: x\n  steps: [\n"})
    assert found[0].startswith(str(tmp_path / "runbooks/a.yaml"))
    assert "invalid YAML" in found[0]


def test_a_named_file_that_is_missing_is_an_error_at_the_files_line(tmp_path: Path) -> None:
    """A file named without a glob that does not exist is reported at `files:`."""
    found = issues(tmp_path, "runbooks:\n  files: [nope.yaml]\n")
    assert found[0].startswith(f"{tmp_path / 'buttress.yaml'}:2:")
    assert "cannot read runbook file" in found[0]


def test_a_bad_action_key_in_an_included_file_names_that_file(tmp_path: Path) -> None:
    """The validation step's action check places its problem in the included file too."""
    body = (
        "- name: r\n  steps:\n    - name: s\n      action:\n        name: degradation.set\n"
        "        with: {levl: RED}\n"
    )
    found = issues(tmp_path, MAIN, **{"runbooks/a.yaml": body})
    assert found[0].startswith(f"{tmp_path / 'runbooks/a.yaml'}:6:")
    assert "did you mean 'level'" in found[0]
