"""``buttress runbook run`` stopped with SIGTERM mid-step: the step's process ends with it
(a step never outlives its run, or a resume would run it again beside it), and the run shows
interrupted."""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

from tests.conftest import wait_until
from tests.runbooks.cli_support import site


def _sleeping(pattern: str) -> list[str]:
    found = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True)
    return found.stdout.split()


def test_sigterm_ends_the_step_process_and_leaves_the_run_interrupted(tmp_path: Path) -> None:
    """The `sleep 731` of step 2 is gone once the CLI exited on SIGTERM; the run is
    interrupted, its step too."""
    here = site(tmp_path)
    child = here.start("run", "nap", "--param", "seconds=731")
    try:
        wait_until(lambda: bool(_sleeping("^sleep 731$")), "the step's sleep to start", 60)
        child.send_signal(signal.SIGTERM)
        child.communicate(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate(timeout=30)
    assert child.returncode != 0
    wait_until(lambda: not _sleeping("^sleep 731$"), "the step's process to end", 10)
    shown = json.loads(here.run("run-status", "1", "--json").stdout)
    assert shown["status"] == "interrupted"
    assert [s["status"] for s in shown["steps"]][-1] == "interrupted"
