"""An exclusive runbook runs once at a time: a second run is refused naming the first."""

from __future__ import annotations

import pytest

from buttress.catalog import Catalog, audit
from buttress.errors import ConflictError
from tests.runbooks.standin import service


def test_a_second_run_of_an_exclusive_runbook_is_refused_naming_the_first(
    catalog: Catalog,
) -> None:
    """While run N holds the runbook, another start (another service, as another replica
    would) is a ConflictError naming run N, audited as denied, and records no run."""
    first = service(catalog).start("exclusive", {}, "cli:alice")
    with pytest.raises(ConflictError, match=f"run {first} of it is still running"):
        service(catalog).start("exclusive", {}, "cli:bob")
    assert [r.id for r in service(catalog).runs("exclusive")] == [first]
    with catalog.begin() as session:
        refused = [
            r
            for r in audit.get_all(session=session, action="runbook.start")
            if r.actor == "cli:bob"
        ]
    assert [r.outcome for r in refused] == ["denied"]


def test_an_exclusive_runbook_runs_again_once_the_first_run_ended(catalog: Catalog) -> None:
    """The claim is released when the run ends."""
    runs = service(catalog)
    runs.start("simple", {}, "x")  # other runbooks are not held
    first = runs.start("exclusive", {}, "cli:alice")
    runs._definitions.get("exclusive").steps[1].seconds = 0  # type: ignore[union-attr]
    try:
        assert runs.execute(first) == "succeeded"
    finally:
        runs._definitions.get("exclusive").steps[1].seconds = 600  # type: ignore[union-attr]
    assert runs.start("exclusive", {}, "cli:bob") > first


def test_a_dry_run_does_not_hold_an_exclusive_runbook(catalog: Catalog) -> None:
    """Rehearsing does not keep a real run from starting."""
    runs = service(catalog)
    runs.start("exclusive", {}, "cli:alice", dry_run=True)
    assert runs.start("exclusive", {}, "cli:bob")
