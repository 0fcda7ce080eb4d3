"""A run's record in the catalog: its steps in order, its end, masked secrets, audit."""

from __future__ import annotations

from buttress.catalog import Catalog, audit
from buttress.secrets import MASK
from tests.runbooks.standin import service


def test_a_run_records_each_step_and_its_end(catalog: Catalog) -> None:
    """Every step is a row with its status, output and values; the run ends succeeded."""
    runs = service(catalog)
    run_id = runs.start("simple", {}, "cli:alice")
    assert runs.execute(run_id) == "succeeded"
    view = runs.get(run_id)
    assert view.run.status == "succeeded"
    assert view.run.finished_at is not None
    assert [(s.path, s.name, s.status) for s in view.steps] == [
        ("0", "one", "succeeded"),
        ("1", "two", "succeeded"),
        ("2", "three", "succeeded"),
    ]
    assert view.steps[1].values == {"path": "1", "seen": ["one"]}
    assert view.steps[0].output == "ran one"
    assert [r.id for r in runs.runs("simple")] == [run_id]


def test_secret_parameters_are_masked_in_the_record(catalog: Catalog) -> None:
    """A secret parameter is stored as ***, the engine still gets its value."""
    runs = service(catalog)
    run_id = runs.start("with-secret", {"password": "hunter2", "count": "3"}, "cli:alice")
    runs.execute(run_id)
    assert runs.get(run_id).run.params == {"host": "db1", "password": MASK, "count": 3}
    assert runs.engines[0].seen["params"]["password"] == "hunter2"  # type: ignore[attr-defined]
    with catalog.begin() as session:
        started = audit.get_all(session=session, action="runbook.start")
    assert "hunter2" not in str([r.detail for r in started])


def test_a_start_is_audited_with_its_actor(catalog: Catalog) -> None:
    """Starting a run writes an audit record naming the actor and the run."""
    runs = service(catalog)
    run_id = runs.start("simple", {}, "cli:alice")
    with catalog.begin() as session:
        (record,) = audit.get_all(session=session, action="runbook.start")
        assert (record.actor, record.outcome) == ("cli:alice", "success")
        assert record.target == f"runbook=simple,run={run_id}"
