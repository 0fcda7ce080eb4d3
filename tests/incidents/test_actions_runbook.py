"""An incident's rule runs a runbook: the run is recorded with the incident as its actor,
its parameters rendered from the incident, and its steps run for real; a rule naming a
runbook or a parameter that does not exist is an error at its line."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from buttress.catalog import Catalog
from buttress.config import ConfigError, load_text
from buttress.config_checks import register_domain_checks
from buttress.incidents.actions import Actions
from buttress.runbooks.runs import Runbooks, engine_factory
from tests.conftest import wait_until
from tests.incidents.test_actions import declare
from tests.incidents.test_escalation import Clock


def _config(tmp_path: Path, do: str):  # type: ignore[no-untyped-def]
    register_domain_checks()
    script = "import sys, pathlib; pathlib.Path(sys.argv[1]).write_text(sys.argv[2])"
    return load_text(
        "runbooks:\n  definitions:\n"
        "    - name: note\n"
        "      params: {ref: {type: str}, level: {type: str, default: low}}\n"
        "      steps:\n"
        f"        - name: write\n          command: {{argv: [{sys.executable!r}, '-c',"
        f" {script!r}, {str(tmp_path / 'note.txt')!r}, '{{{{ params.ref }}}}']}}\n"
        "incidents:\n  allowed_actions: [runbook]\n  actions:\n"
        f"    - {{name: write-it-down, do: {do}}}\n",
        filename="buttress.yaml",
        env={},
    )


def test_a_rule_runs_a_runbook_as_the_incident(tmp_path: Path, catalog: Catalog) -> None:
    """The action starts a run of `note` with ref = the incident's ref; the run succeeds,
    its command wrote the ref, and the run's actor is the incident."""
    config = _config(
        tmp_path, "{type: runbook, runbook: note, params: {ref: '{{ incident.ref }}'}}"
    )
    incident = declare(catalog)
    (result,) = Actions(catalog, config, clock=Clock()).run_for(incident.id)
    assert result.outcome == "ok", result.error
    run_id = int(result.detail["run_id"])
    runs = Runbooks(config, catalog, engine_factory(config, catalog))
    wait_until(lambda: runs.get(run_id).run.status != "running", "the runbook's run to end")
    view = runs.get(run_id)
    assert view.run.status == "succeeded"
    assert view.run.actor == f"incident:{incident.ref}"
    assert (tmp_path / "note.txt").read_text() == incident.ref


@pytest.mark.parametrize(
    ("do", "said"),
    [
        ("{type: runbook, runbook: notes}", "unknown runbook 'notes' (runbooks: note)"),
        (
            "{type: runbook, runbook: note, params: {reff: x}}",
            "runbook note has no parameter 'reff' (its parameters: level, ref)",
        ),
    ],
)
def test_an_unknown_runbook_or_parameter_is_refused(tmp_path: Path, do: str, said: str) -> None:
    """Named at the rule's line, with what there is."""
    with pytest.raises(ConfigError) as caught:
        _config(tmp_path, do)
    (issue,) = caught.value.issues
    assert said in str(issue)
    assert issue.line == 11  # the rule's line
