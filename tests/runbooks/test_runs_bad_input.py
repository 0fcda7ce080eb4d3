"""Starting a run with bad input is refused before anything is recorded, and audited."""

from __future__ import annotations

import pytest

from buttress.catalog import Catalog, audit
from buttress.errors import NotFoundError, UsageError
from tests.runbooks.standin import service


def test_an_unknown_runbook_is_not_found(catalog: Catalog) -> None:
    """A name nobody configured is a NotFoundError naming it."""
    with pytest.raises(NotFoundError, match="nope"):
        service(catalog).start("nope", {}, "cli:alice")


def test_a_bad_parameter_is_refused_and_audited(catalog: Catalog) -> None:
    """A parameter of the wrong type records no run, and a failed audit record."""
    runs = service(catalog)
    with pytest.raises(UsageError, match="count"):
        runs.start("with-secret", {"password": "x", "count": "many"}, "cli:alice")
    assert runs.runs() == []
    with catalog.begin() as session:
        (record,) = audit.get_all(session=session, action="runbook.start")
        assert record.outcome == "failed"
