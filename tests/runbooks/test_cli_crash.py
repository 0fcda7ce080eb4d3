"""``buttress runbook run`` killed (-9) mid-run: ``runbook runs`` shows the run interrupted,
never succeeded or running, and ``runbook resume`` finishes it from the step it stopped at."""

from __future__ import annotations

import json
import signal
from pathlib import Path

from tests.conftest import wait_until
from tests.runbooks.cli_support import site


def test_a_killed_run_shows_interrupted_and_resumes_from_its_step(tmp_path: Path) -> None:
    """Kill the process during the second step; resume runs steps 1 and 2 and exits 0."""
    here = site(tmp_path)
    child = here.start("run", "nap", "--param", "seconds=600")
    catalog = here.catalog()
    try:
        runs = here.service(catalog)
        wait_until(
            lambda: (
                [s.name for s in runs.get(1).steps] == ["first", "sleep"] if runs.runs() else False
            ),
            "the second step runs",
            60,
        )
    finally:
        child.send_signal(signal.SIGKILL)
        child.communicate(timeout=30)
        catalog.dispose()

    listed = here.run("runs", "--json")
    assert listed.returncode == 0, listed.stderr
    (run,) = json.loads(listed.stdout)
    assert (run["id"], run["status"]) == (1, "interrupted")
    shown = json.loads(here.run("run-status", "1", "--json").stdout)
    assert [(s["name"], s["status"]) for s in shown["steps"]] == [
        ("first", "succeeded"),
        ("sleep", "interrupted"),
    ]

    resumed = here.run("resume", "1", "--param", "seconds=0")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "run 2 resumes run 1" in resumed.stderr
    again = json.loads(here.run("run-status", "2", "--json").stdout)
    assert (again["status"], again["resumed_from"], again["mode"]) == ("succeeded", 1, "resume")
    assert [(s["name"], s["status"], s["carried"]) for s in again["steps"]] == [
        ("first", "succeeded", True),
        ("sleep", "succeeded", False),
        ("last", "succeeded", False),
    ]
    assert json.loads(here.run("run-status", "1", "--json").stdout)["status"] == "interrupted"
