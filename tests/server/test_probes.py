"""/healthz, /readyz, /metrics and the OpenAPI document."""

from __future__ import annotations

from tests.server.conftest import Api


def test_healthz(api: Api) -> None:
    """Liveness answers 200 without a token."""
    response = api.client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_reports_catalog(api: Api) -> None:
    """Readiness checks the catalog and says so."""
    response = api.client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"]["catalog"]["ok"] is True


def test_readyz_is_503_when_catalog_is_gone(api: Api) -> None:
    """When the catalog does not answer, readiness is 503 with the reason."""
    real_ping = api.catalog.ping

    def broken() -> None:
        from buttress.errors import CatalogError

        raise CatalogError("catalog database at test did not answer: refused")

    api.catalog.ping = broken  # type: ignore[method-assign]  # simulate the outage for this probe
    try:
        response = api.client.get("/readyz")
    finally:
        api.catalog.ping = real_ping  # type: ignore[method-assign]
    assert response.status_code == 503
    assert "did not answer" in response.json()["checks"]["catalog"]["error"]


def test_metrics_exposes_process_and_buttress_metrics(api: Api) -> None:
    """/metrics is Prometheus text with process, HTTP and catalog metrics."""
    api.client.get("/healthz")
    response = api.client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    body = response.text
    for name in (
        "process_resident_memory_bytes",
        "buttress_build_info",
        "buttress_catalog_up 1.0",
        'buttress_http_requests_total{method="GET",route="/healthz",status="200"}',
        "buttress_http_request_duration_seconds_bucket",
        "buttress_api_tokens_active 3.0",
    ):
        assert name in body, name


def test_metrics_use_route_templates_not_raw_paths(api: Api) -> None:
    """Paths with ids are counted under their template, so metrics stay low-cardinality."""
    api.client.delete("/api/v1/tokens/ABCDEFGH", headers=api.auth(api.admin))
    body = api.client.get("/metrics").text
    assert 'route="/api/v1/tokens/{token_id}"' in body
    assert "ABCDEFGH" not in body


def test_openapi_document(api: Api) -> None:
    """The OpenAPI document is served at /api/openapi.json and lists the API."""
    spec = api.client.get("/api/openapi.json").json()
    assert spec["info"]["title"] == "buttress control plane"
    assert "/api/v1/tokens" in spec["paths"]
    assert "/api/v1/audit" in spec["paths"]


def test_request_id_is_echoed_or_generated(api: Api) -> None:
    """A sane X-Request-ID is kept; a missing or unsafe one is replaced."""
    assert (
        api.client.get("/healthz", headers={"X-Request-ID": "abc-123"}).headers["x-request-id"]
        == "abc-123"
    )
    generated = api.client.get("/healthz", headers={"X-Request-ID": "bad id; drop"}).headers[
        "x-request-id"
    ]
    assert generated != "bad id"
    assert len(generated) == 16
