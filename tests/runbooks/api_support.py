"""Fixtures of the runbooks API tests (import them into the test module): the API fixture of
tests/server (the app on each catalog backend, a token per role), with the runs service over
the stand-in engine."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.runbooks.standin import service
from tests.server.conftest import Api, api

__all__ = ["api", "runbooks_api"]


@pytest.fixture
def runbooks_api(api: Api) -> Iterator[Api]:
    """The app, its runbooks those of the stand-in engine."""
    runs = service(api.catalog)
    api.client.app.state.runbooks = runs  # type: ignore[attr-defined]
    yield api
    # runs run in threads of the server: let them end before the catalog goes
    assert runs.join(30), "the runs started over the API did not end"
