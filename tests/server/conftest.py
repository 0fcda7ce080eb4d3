"""Fixtures for the API: an app on each catalog backend, tokens of each role."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from buttress.catalog import Catalog, tokens
from buttress.server.app import create_app


@dataclass
class Api:
    """A test client and a token per role."""

    client: TestClient
    catalog: Catalog
    admin: str
    operator: str
    viewer: str

    def auth(self, token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def api(catalog: Catalog) -> Iterator[Api]:
    """The control-plane app on a migrated catalog (SQLite and PostgreSQL), with three tokens."""
    made: dict[str, str] = {}
    with catalog.begin() as session:
        for role in ("admin", "operator", "viewer"):
            made[role] = tokens.create(
                session=session, name=f"{role}-token", role=role, created_by="test"
            )[1]
    with TestClient(create_app(catalog), client=("127.0.0.9", 50000)) as client:
        yield Api(client, catalog, made["admin"], made["operator"], made["viewer"])
