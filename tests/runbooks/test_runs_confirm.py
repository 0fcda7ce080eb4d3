"""A confirm step waits for an answer in the catalog; nobody answering applies its default."""

from __future__ import annotations

import pytest

from buttress.catalog import Catalog, audit
from buttress.errors import ConflictError
from tests.conftest import wait_until
from tests.runbooks.standin import in_thread, service


def test_an_answer_from_elsewhere_lets_the_run_go_on(catalog: Catalog) -> None:
    """The run waits at the confirm step; an approval (another process would do the same)
    is recorded with its actor and comment, audited, and the run succeeds."""
    runs = service(catalog)
    run_id = runs.start("ask", {}, "cli:alice")
    thread = in_thread(runs.execute, run_id)
    wait_until(lambda: runs.get(run_id).waiting is not None, "the confirm step waits")
    assert runs.get(run_id).waiting.path == "1"  # type: ignore[union-attr]
    service(catalog).confirm(run_id, "gate", True, "token:bob", comment="checked the lag")
    thread.join(30)
    view = runs.get(run_id)
    assert view.run.status == "succeeded"
    gate = view.steps[1]
    assert (gate.approved, gate.confirmed_by, gate.comment, gate.defaulted) == (
        True,
        "token:bob",
        "checked the lag",
        False,
    )
    with catalog.begin() as session:
        (record,) = audit.get_all(session=session, action="runbook.confirm")
    assert (record.actor, record.detail["approved"]) == ("token:bob", True)


def test_a_refusal_fails_the_run(catalog: Catalog) -> None:
    """Refusing the step stops the run there."""
    runs = service(catalog)
    run_id = runs.start("ask", {}, "cli:alice")
    thread = in_thread(runs.execute, run_id)
    wait_until(lambda: runs.get(run_id).waiting is not None, "the confirm step waits")
    runs.confirm(run_id, None, False, "token:bob")
    thread.join(30)
    view = runs.get(run_id)
    assert view.run.status == "failed"
    assert [s.status for s in view.steps] == ["succeeded", "failed"]


def test_nobody_answering_applies_the_default_recorded(catalog: Catalog) -> None:
    """After the timeout the default (refuse) is the answer, by ``default``, audited."""
    runs = service(catalog)
    run_id = runs.start("ask-briefly", {}, "cli:alice")
    assert runs.execute(run_id, poll=0.05) == "failed"
    (gate,) = runs.get(run_id).steps
    assert (gate.approved, gate.confirmed_by, gate.defaulted) == (False, "default", True)
    with catalog.begin() as session:
        (record,) = audit.get_all(session=session, action="runbook.confirm")
    assert (record.actor, record.detail["defaulted"]) == ("default", True)


def test_confirming_a_run_that_waits_for_nothing_is_a_conflict(catalog: Catalog) -> None:
    """No waiting step: ConflictError, audited as denied."""
    runs = service(catalog)
    run_id = runs.start("simple", {}, "cli:alice")
    runs.execute(run_id)
    with pytest.raises(ConflictError, match="no confirm step waiting"):
        runs.confirm(run_id, None, True, "token:bob")
    with catalog.begin() as session:
        (record,) = audit.get_all(session=session, action="runbook.confirm")
    assert record.outcome == "denied"
