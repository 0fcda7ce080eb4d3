"""Token management over the API, and the audit trail it leaves."""

from __future__ import annotations

from tests.server.conftest import Api


def test_create_use_and_revoke_a_token(api: Api) -> None:
    """An admin creates a token (shown once), it works, it is revoked, it stops working."""
    created = api.client.post(
        "/api/v1/tokens", json={"name": "deploy", "role": "operator"}, headers=api.auth(api.admin)
    )
    assert created.status_code == 201
    body = created.json()
    token, token_id = body["token"], body["id"]
    assert api.client.get("/api/v1/whoami", headers=api.auth(token)).json()["name"] == "deploy"
    listed = api.client.get("/api/v1/tokens", headers=api.auth(api.admin)).json()
    assert token_id in [t["id"] for t in listed]
    assert all("token" not in t and "token_hash" not in t for t in listed)
    revoked = api.client.delete(f"/api/v1/tokens/{token_id}", headers=api.auth(api.admin))
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    assert api.client.get("/api/v1/whoami", headers=api.auth(token)).status_code == 401


def test_bad_payloads_get_field_errors(api: Api) -> None:
    """Invalid payloads are 422 with the field named."""
    response = api.client.post(
        "/api/v1/tokens", json={"name": "", "role": "root", "x": 1}, headers=api.auth(api.admin)
    )
    assert response.status_code == 422
    body = response.json()
    fields = {p["field"] for p in body["problems"]}
    assert {"body.name", "body.role", "body.x"} <= fields
    assert body["error"] == "invalid_request"


def test_unknown_token_revoke_is_404(api: Api) -> None:
    """Revoking an unknown id is a 404 JSON error."""
    response = api.client.delete("/api/v1/tokens/ZZZZZZZZ", headers=api.auth(api.admin))
    assert response.status_code == 404
    assert response.json() == {
        "error": "not_found",
        "message": "token 'ZZZZZZZZ' not found",
        "request_id": response.headers["x-request-id"],
    }


def test_mutations_are_audited_with_who_what_where_outcome(api: Api) -> None:
    """Every mutating call leaves an audit record: success, denied and failed alike."""
    ok = api.client.post("/api/v1/tokens", json={"name": "a"}, headers=api.auth(api.admin))
    api.client.post("/api/v1/tokens", json={"name": "b"}, headers=api.auth(api.viewer))
    api.client.post("/api/v1/tokens", json={"name": "c"})
    api.client.delete("/api/v1/tokens/ZZZZZZZZ", headers=api.auth(api.admin))
    records = api.client.get("/api/v1/audit", headers=api.auth(api.admin)).json()
    assert [r["outcome"] for r in records[:4]] == ["failed", "denied", "denied", "success"]
    newest, anonymous, _viewer, created = records[:4]
    assert created["action"] == "token.create"
    assert created["target"] == f"token_id={ok.json()['id']}"
    assert created["actor"].endswith("(admin-token)")
    assert created["client"] == "127.0.0.9"
    assert created["status"] == 201
    assert created["request_id"]
    assert anonymous["actor"] == "anonymous"
    assert anonymous["status"] == 401
    assert newest["action"] == "token.revoke"
    assert newest["target"] == "token_id=ZZZZZZZZ"
    assert ok.json()["token"] not in str(records)


def test_audit_is_admin_only(api: Api) -> None:
    """Only admins read the audit log."""
    assert api.client.get("/api/v1/audit", headers=api.auth(api.operator)).status_code == 403


def test_reads_are_not_audited(api: Api) -> None:
    """GET requests leave no audit record."""
    api.client.get("/api/v1/status", headers=api.auth(api.admin))
    assert api.client.get("/api/v1/audit", headers=api.auth(api.admin)).json() == []


def test_admin_cannot_revoke_the_last_admin_token(api: Api) -> None:
    """An admin revoking its own token, the last active admin, gets 409 and keeps its access."""
    me = api.client.get("/api/v1/whoami", headers=api.auth(api.admin)).json()["token_id"]
    refused = api.client.delete(f"/api/v1/tokens/{me}", headers=api.auth(api.admin))
    assert refused.status_code == 409
    body = refused.json()
    assert body["error"] == "conflict"
    assert "last active admin token" in body["message"]
    assert api.client.get("/api/v1/whoami", headers=api.auth(api.admin)).status_code == 200
    other = api.client.post(
        "/api/v1/tokens", json={"name": "admin-2", "role": "admin"}, headers=api.auth(api.admin)
    ).json()
    assert api.client.delete(f"/api/v1/tokens/{me}", headers=api.auth(api.admin)).status_code == 200
    last = api.client.delete(f"/api/v1/tokens/{other['id']}", headers=api.auth(other["token"]))
    assert last.status_code == 409
