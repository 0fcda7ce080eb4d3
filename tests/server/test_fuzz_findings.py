"""What fuzzing the API found, each pinned by a test (see test_schemathesis.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from buttress.catalog import Catalog, tokens
from buttress.config import ButtressConfig
from buttress.server.app import create_app


@pytest.fixture
def leveled(catalog: Catalog) -> Iterator[tuple[TestClient, dict[str, str]]]:
    """The app with degradation levels, and an operator's headers."""
    with catalog.begin() as session:
        _, token = tokens.create(session=session, name="op", role="operator", created_by="t")
    config = ButtressConfig.model_validate({"health": {"degradation": {"levels": "traffic_light"}}})
    with TestClient(create_app(catalog, config), raise_server_exceptions=False) as client:
        yield client, {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("duration", [1e18, 1e308, "99999999999h"])
def test_override_longer_than_a_year_is_422(
    leveled: tuple[TestClient, dict[str, str]], duration: object
) -> None:
    """A level override for an absurd duration is a 422 naming `for`, not a 500 (overflow)."""
    client, headers = leveled
    response = client.post(
        "/api/v1/level/override",
        json={"level": "RED", "for": duration, "reason": "fuzz"},
        headers=headers,
    )
    assert response.status_code == 422
    assert response.json()["problems"][0]["field"] == "body.for"


def test_405_allow_names_every_method_of_the_path(
    leveled: tuple[TestClient, dict[str, str]],
) -> None:
    """A 405 lists in Allow every method the path has, not only the first route's."""
    client, headers = leveled
    tokens_path = client.request("PATCH", "/api/v1/tokens", headers=headers)
    assert tokens_path.status_code == 405
    assert tokens_path.headers["allow"] == "GET, POST"
    override = client.request("PUT", "/api/v1/level/override", headers=headers)
    assert override.headers["allow"] == "DELETE, POST"
