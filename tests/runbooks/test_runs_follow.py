"""A failed run resumes from the failed step, or rolls back what it did."""

from __future__ import annotations

import pytest

from buttress.catalog import Catalog, audit
from buttress.errors import ConflictError, UsageError
from tests.runbooks.standin import service


def test_a_failed_run_rolls_back_its_succeeded_steps(catalog: Catalog) -> None:
    """Rollback is a new run: the rollback steps of step 0, then the runbook's own."""
    runs = service(catalog)
    run_id = runs.start("fails", {}, "cli:alice")
    assert runs.execute(run_id) == "failed"
    back = runs.rollback(run_id, "cli:bob")
    assert runs.execute(back) == "rolled_back"
    view = runs.get(back)
    assert (view.run.mode, view.run.resumed_from, view.run.actor) == ("rollback", run_id, "cli:bob")
    assert [(s.path, s.name) for s in view.steps] == [
        ("0.rollback.0", "undo-one"),
        ("rollback.0", "cleanup"),
    ]
    with catalog.begin() as session:
        (record,) = audit.get_all(session=session, action="runbook.rollback")
    assert record.actor == "cli:bob"


def test_a_failed_run_resumes_at_the_failed_step(catalog: Catalog) -> None:
    """Resume starts at the step that failed (here it fails again: a new failed run)."""
    runs = service(catalog)
    run_id = runs.start("fails", {}, "cli:alice")
    runs.execute(run_id)
    new = runs.resume(run_id, "cli:bob")
    assert runs.execute(new) == "failed"
    assert runs.engines[-1].seen["start_at"] == "1"  # type: ignore[attr-defined]
    with catalog.begin() as session:
        assert [r.outcome for r in audit.get_all(session=session, action="runbook.resume")] == [
            "success"
        ]


def test_a_succeeded_run_cannot_be_resumed(catalog: Catalog) -> None:
    """Only failed or interrupted runs resume."""
    runs = service(catalog)
    run_id = runs.start("simple", {}, "cli:alice")
    runs.execute(run_id)
    with pytest.raises(ConflictError, match="only a failed or interrupted run"):
        runs.resume(run_id, "cli:bob")


def test_resuming_needs_the_secret_parameters_again(catalog: Catalog) -> None:
    """Secrets are not stored: resume asks for them, and takes them with params."""
    runs = service(catalog)
    run_id = runs.start("with-secret", {"password": "hunter2"}, "cli:alice")
    runs.execute(run_id)
    with catalog.begin() as session:  # make it resumable
        from buttress.runbooks.tables import RunbookRun

        session.get_one(RunbookRun, run_id).status = "failed"
    with pytest.raises(UsageError, match="password"):
        runs.resume(run_id, "cli:bob")
    assert runs.resume(run_id, "cli:bob", params={"password": "hunter2"})


def test_a_run_is_resumed_or_rolled_back_once(catalog: Catalog) -> None:
    """A second resume of the same run is refused naming the first (resume that one), and
    so is a second rollback."""
    runs = service(catalog)
    run_id = runs.start("fails", {}, "cli:alice")
    runs.execute(run_id)
    first = runs.resume(run_id, "cli:bob")
    runs.execute(first)
    with pytest.raises(ConflictError, match=f"already resumed by run {first} \\(resume run"):
        runs.resume(run_id, "cli:carol")
    back = runs.rollback(run_id, "cli:bob")
    runs.execute(back)
    with pytest.raises(ConflictError, match=f"already rolled back by run {back}"):
        runs.rollback(run_id, "cli:carol")
