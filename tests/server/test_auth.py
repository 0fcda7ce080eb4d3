"""Token authentication and roles: 401 and 403 as JSON with a clear message."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from buttress.catalog import Catalog, migrate, tokens
from buttress.platform.auth import Viewer
from buttress.server.app import create_app
from tests.server.conftest import Api


def test_missing_token_is_401_json(api: Api) -> None:
    """No token: 401, JSON, a message saying how to authenticate, and WWW-Authenticate."""
    response = api.client.get("/api/v1/status")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json() == {
        "error": "unauthorized",
        "message": "missing API token: send 'Authorization: Bearer <token>'",
        "request_id": response.headers["x-request-id"],
    }


@pytest.mark.parametrize("token", ["nope", "bt_AAAAAAAA_" + "a" * 32])
def test_invalid_token_is_401(api: Api, token: str) -> None:
    """A malformed or unknown token is refused."""
    response = api.client.get("/api/v1/status", headers=api.auth(token))
    assert response.status_code == 401
    assert response.json()["message"] == "invalid or revoked API token"


@pytest.mark.parametrize("role", ["viewer", "operator"])
def test_non_admin_cannot_manage_tokens(api: Api, role: str) -> None:
    """Listing tokens needs admin: lower roles get 403 naming the role needed."""
    response = api.client.get("/api/v1/tokens", headers=api.auth(getattr(api, role)))
    assert response.status_code == 403
    body = response.json()
    assert body["error"] == "forbidden"
    assert "needs the 'admin' role" in body["message"]
    assert f"has '{role}'" in body["message"]


@pytest.mark.parametrize("role", ["viewer", "operator", "admin"])
def test_every_role_reads_status(api: Api, role: str) -> None:
    """Viewers and above read the status."""
    response = api.client.get("/api/v1/status", headers=api.auth(getattr(api, role)))
    assert response.status_code == 200
    body = response.json()
    assert body["catalog_backend"] in ("sqlite", "postgresql")
    assert body["catalog_revision"] == migrate.head()


def test_whoami(api: Api) -> None:
    """whoami names the token and its role."""
    body = api.client.get("/api/v1/whoami", headers=api.auth(api.operator)).json()
    assert (body["name"], body["role"]) == ("operator-token", "operator")


def test_a_role_checked_route_outside_the_gate_is_refused(catalog: Catalog) -> None:
    """A route that checks a role but that the request gate does not guard (not under /api/)
    answers 401 even to a valid token: roles trust only the principal the gate found, and the
    token is never looked up a second way; the same token through the gate is let in."""
    with catalog.begin() as session:
        token = tokens.create(session=session, name="ops", role="admin", created_by="test")[1]
    app = create_app(catalog)

    @app.get("/outside-the-gate")
    def outside(who: Viewer) -> dict[str, str]:
        return {"name": who.name}

    headers = {"Authorization": f"Bearer {token}"}
    with TestClient(app, client=("127.0.0.9", 50000)) as client:
        refused = client.get("/outside-the-gate", headers=headers)
        inside = client.get("/api/v1/whoami", headers=headers)
    assert refused.status_code == 401
    assert refused.json()["error"] == "unauthorized"
    assert token not in refused.text
    assert inside.status_code == 200
    assert inside.json()["name"] == "ops"
