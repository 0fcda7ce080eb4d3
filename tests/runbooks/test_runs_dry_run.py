"""A dry run records the engine's plan and runs nothing."""

from __future__ import annotations

from buttress.catalog import Catalog
from tests.runbooks.standin import service


def test_a_dry_run_records_the_plan_as_skipped_steps(catalog: Catalog) -> None:
    """Each planned step is a skipped row with what would run; the engine ran nothing."""
    runs = service(catalog)
    run_id = runs.start("simple", {}, "cli:alice", dry_run=True)
    assert runs.execute(run_id) == "succeeded"
    view = runs.get(run_id)
    assert view.run.dry_run
    assert [(s.status, s.output) for s in view.steps] == [
        ("skipped", "would ok one"),
        ("skipped", "would ok two"),
        ("skipped", "would ok three"),
    ]
    assert runs.engines[0].seen == {}  # type: ignore[attr-defined]
