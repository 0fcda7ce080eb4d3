"""The catalog recorder bounds a step's output and masks secrets in it, and stops a run that
lost its claim."""

from __future__ import annotations

import pytest

from buttress.catalog import Catalog
from buttress.errors import ButtressError
from buttress.runbooks.runs import MAX_OUTPUT, CatalogRecorder
from buttress.runbooks.tables import RunbookRun
from tests.runbooks.standin import service


def test_long_output_keeps_its_end_and_secrets_are_masked(catalog: Catalog) -> None:
    """Output past MAX_OUTPUT is cut from the front (saying so); a DSN's password is ***."""
    runs = service(catalog)
    run_id = runs.start("simple", {}, "cli:alice")
    recorder = CatalogRecorder(catalog, run_id, "cli:alice")
    recorder.step_started("0", "one", "command")
    tail = "connect postgresql://app:hunter2@db/app failed"
    recorder.step_finished(
        "0",
        "failed",
        output="a line of output\n" * (MAX_OUTPUT // 8) + tail,
        values={},
        error=tail,
        attempts=3,
    )
    (step,) = runs.get(run_id).steps
    assert step.output.startswith("[... ")
    assert step.output.endswith("connect postgresql://app:***@db/app failed")
    assert len(step.output) < MAX_OUTPUT + 100
    assert "hunter2" not in (step.error or "")
    assert step.attempts == 3


def test_a_run_that_lost_its_claim_stops_before_its_next_step(catalog: Catalog) -> None:
    """Once the claim is lost the recorder refuses the next step, and a run already judged
    interrupted is not turned into another status by its end."""
    runs = service(catalog)
    run_id = runs.start("simple", {}, "cli:alice")
    recorder = CatalogRecorder(catalog, run_id, "cli:alice", lost=lambda: True)
    with pytest.raises(ButtressError, match="lost its claim"):
        recorder.step_started("0", "one", "command")
    with catalog.begin() as session:
        session.get_one(RunbookRun, run_id).status = "interrupted"
    recorder.run_finished("succeeded", None)
    assert runs.get(run_id).run.status == "interrupted"
