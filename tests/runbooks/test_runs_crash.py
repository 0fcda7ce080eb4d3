"""A run whose process is killed mid-run shows as interrupted (never succeeded or running), and
resumes from the step it stopped at, with the earlier steps' values."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from buttress.catalog import Catalog
from tests.conftest import wait_until
from tests.runbooks.standin import Definitions, Runbook, Step, service

ROOT = Path(__file__).resolve().parents[2]


def _killed_mid_run(catalog: Catalog, name: str) -> int:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.runbooks.crash_child",
            str(catalog.engine.url.render_as_string(hide_password=False)),
            name,
        ],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )
    assert child.stdout is not None
    run_id = int(child.stdout.readline())
    runs = service(catalog)
    wait_until(
        lambda: any(s.name == "nap" for s in runs.get(run_id).steps), "the sleeping step", 60
    )
    child.send_signal(signal.SIGKILL)
    child.wait()
    child.stdout.close()
    return run_id


def test_a_killed_run_is_interrupted_and_resumes_from_its_step(catalog: Catalog) -> None:
    """kill -9 during step 1: the run and that step read interrupted, stored so; resuming
    runs steps 1 and 2 only, with step 0's values, and succeeds."""
    run_id = _killed_mid_run(catalog, "slow")
    runs = service(catalog)
    (listed,) = runs.runs("slow")
    assert listed.status == "interrupted"
    view = runs.get(run_id)
    assert [s.status for s in view.steps] == ["succeeded", "interrupted"]
    assert "stopped" in (view.run.error or "")

    quick = Definitions(  # as if the config had been edited: the nap is short now
        [Runbook("slow", [Step("one"), Step("nap"), Step("three")])]
    )
    again = service(catalog, definitions=quick)
    new = again.resume(run_id, "cli:bob")
    assert again.execute(new) == "succeeded"
    engine = again.engines[0]  # type: ignore[attr-defined]
    assert engine.seen["start_at"] == "1"
    assert engine.seen["values"] == {"one": {"path": "0", "seen": []}}
    resumed = again.get(new)
    assert resumed.run.resumed_from == run_id
    assert [(s.path, s.status, s.carried) for s in resumed.steps] == [
        ("0", "succeeded", True),
        ("1", "succeeded", False),
        ("2", "succeeded", False),
    ]
    assert runs.get(run_id).run.status == "interrupted"  # the first run's record stays


def test_a_killed_exclusive_run_frees_its_runbook(catalog: Catalog) -> None:
    """The exclusive claim of a killed run is dead: a new run of the runbook may start."""
    _killed_mid_run(catalog, "exclusive")
    runs = service(catalog)
    assert runs.start("exclusive", {}, "cli:bob")
