"""A confirm step nobody answers in time: the default applies, and the record says so."""

from __future__ import annotations

import json
from pathlib import Path

from tests.runbooks.cli_support import site

CONFIG = """\
runbooks:
  definitions:
    - name: patient
      steps:
        - name: gate
          confirm: {prompt: 'Go?', timeout: 0.5, default: approve}
        - name: after
          command: {argv: ['true']}
"""


def test_the_default_answer_is_recorded_as_the_default(tmp_path: Path) -> None:
    """Nobody answers: approved by ``default``, ``defaulted``, the run succeeds (exit 0)."""
    here = site(tmp_path, CONFIG)
    done = here.run("run", "patient")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "approved by default (the default, nobody answered in time)" in done.stdout
    gate = json.loads(here.run("run-status", "1", "--json").stdout)["steps"][0]
    assert (gate["approved"], gate["confirmed_by"], gate["defaulted"]) == (True, "default", True)
