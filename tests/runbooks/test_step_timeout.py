"""A step's timeout: the command's whole process group is killed, the step is timed_out."""

from __future__ import annotations

import os
import time
from pathlib import Path

from tests.runbooks.helpers import config, engine, runbook_yaml


def test_a_command_past_its_timeout_is_killed_with_its_children(tmp_path: Path) -> None:
    """A shell that started a sleeping child is killed at the timeout, the child too."""
    pidfile = tmp_path / "child.pid"
    steps = f"""\
    - name: hang
      timeout: 0.5s
      command:
        shell: true
        script: "sleep 60 & echo $! > {pidfile}; echo started; wait"
    """
    cfg = config(tmp_path, runbook_yaml(steps))
    eng, rec = engine(cfg)
    assert eng.run("rb", {}, run_id="r") == "failed"
    step = rec.steps["0"]
    assert step.status == "timed_out"
    assert "timed out after 0.5s" in (step.error or "")
    assert "started" in step.output
    child = int(pidfile.read_text())
    for _ in range(100):  # the kill is sent; the kernel reaps asynchronously
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        raise AssertionError(f"child {child} still runs")
