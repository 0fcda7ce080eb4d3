"""Every error is JSON with the request id; every mutating request is audited, a 500 too;
NUL characters and integers past 64 bits are 422, not 500."""

from __future__ import annotations

from typing import NoReturn

import pytest
from fastapi.testclient import TestClient

from buttress.catalog import Catalog, audit, tokens
from buttress.server.app import create_app
from tests.server.conftest import Api


def test_unhandled_error_is_json_500_with_request_id_and_audited(catalog: Catalog) -> None:
    """A route that crashes answers a JSON 500 carrying the request id, and is audited."""
    with catalog.begin() as session:
        _, admin = tokens.create(session=session, name="a", role="admin", created_by="test")
    app = create_app(catalog)

    @app.post("/api/v1/crash", name="test.crash", response_model=None)
    def crash() -> NoReturn:
        raise RuntimeError("boom")

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.post(
            "/api/v1/crash", headers={"Authorization": f"Bearer {admin}", "X-Request-ID": "rq-1"}
        )
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-request-id"] == "rq-1"
    body = response.json()
    assert body["error"] == "internal_error"
    assert body["request_id"] == "rq-1"
    with catalog.begin() as session:
        records = audit.get_all(session=session)
    assert [(r.action, r.outcome, r.status, r.request_id) for r in records] == [
        ("test.crash", "failed", 500, "rq-1")
    ]


def test_refused_anonymous_request_is_audited_under_its_route(api: Api) -> None:
    """A request the gate refuses (no token) is audited with the action it was meant for."""
    api.client.delete("/api/v1/tokens/ABCDEFGH")
    records = api.client.get("/api/v1/audit", headers=api.auth(api.admin)).json()
    assert [(r["action"], r["outcome"], r["target"]) for r in records] == [
        ("token.revoke", "denied", "token_id=ABCDEFGH")
    ]


@pytest.mark.parametrize(
    ("method", "path", "payload", "field"),
    [
        ("post", "/api/v1/tokens", {"name": "a\u0000b"}, "body.name"),
        ("post", "/api/v1/backups/runs/x/restore", {"to": "/tmp/a\u0000b"}, "body.to"),
        (
            "post",
            "/api/v1/backups/prune",
            {"target": "t", "x": ["ok", {"k": "\u0000"}]},
            "body.x[1].k",
        ),
        ("get", "/api/v1/audit?actor=a%00b", None, "query.actor"),
    ],
)
def test_nul_character_in_any_string_is_422(
    api: Api, method: str, path: str, payload: object, field: str
) -> None:
    """A NUL character in a body string (at any depth) or a query value is a 422 naming it."""
    response = api.client.request(method, path, json=payload, headers=api.auth(api.admin))
    assert response.status_code == 422
    body = response.json()
    assert body["message"] == f"{field}: must not contain a NUL character"
    assert body["request_id"] == response.headers["x-request-id"]


@pytest.mark.parametrize("before_id", ["9223372036854775808", "99999999999999999999999"])
def test_integer_past_64_bits_is_422(api: Api, before_id: str) -> None:
    """GET /api/v1/audit?before_id= past the 64-bit range is 422, not 500."""
    response = api.client.get(f"/api/v1/audit?before_id={before_id}", headers=api.auth(api.admin))
    assert response.status_code == 422
    assert response.json()["problems"][0]["field"] == "query.before_id"
    largest = api.client.get(
        "/api/v1/audit?before_id=9223372036854775807", headers=api.auth(api.admin)
    )
    assert largest.status_code == 200


def test_integer_past_64_bits_in_a_body_is_422(api: Api) -> None:
    """A JSON integer that does not fit 64 bits is refused before any route sees it."""
    response = api.client.post(
        "/api/v1/backups/runs/x/restore", json={"jobs": 2**64}, headers=api.auth(api.admin)
    )
    assert response.status_code == 422
    assert response.json()["message"] == "body.jobs: integer out of range: it must fit in 64 bits"
