"""The OpenAPI document declares what the routes answer: the shared error model on every
/api operation, and Prometheus text for /metrics."""

from __future__ import annotations

from typing import Any

from tests.server.conftest import Api

DECLARED = ("400", "401", "403", "404", "409", "413", "422", "500")


def test_every_api_operation_declares_its_errors(api: Api) -> None:
    """Each /api/v1 operation lists 400/401/403/404/409/413/422/500 with the ErrorRead model."""
    document: dict[str, Any] = api.client.get("/api/openapi.json").json()
    operations = [
        (path, method, op)
        for path, item in document["paths"].items()
        if path.startswith("/api/v1/")
        for method, op in item.items()
    ]
    assert len(operations) > 10
    for path, method, op in operations:
        for status in DECLARED:
            response = op["responses"].get(status)
            assert response is not None, f"{method.upper()} {path} does not declare {status}"
            schema = response["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/ErrorRead"}, (path, status)
    error = document["components"]["schemas"]["ErrorRead"]
    assert set(error["required"]) == {"error", "message", "request_id"}


def test_metrics_declares_prometheus_text(api: Api) -> None:
    """/metrics is declared as text/plain (not JSON), as it answers."""
    document = api.client.get("/api/openapi.json").json()
    content = document["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
    assert list(content) == ["text/plain"]
    answered = api.client.get("/metrics")
    assert answered.headers["content-type"].startswith("text/plain")
