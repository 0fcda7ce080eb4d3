"""The OpenAPI document declares what the routes answer: a typed model for every success, the
shared error model on every /api operation, and Prometheus text for /metrics."""

from __future__ import annotations

from typing import Any

from buttress.platform.schemas import FREE_FORM
from tests.server.conftest import Api

DECLARED = ("400", "401", "403", "404", "409", "413", "422", "500", "503")


def test_every_api_operation_declares_its_errors(api: Api) -> None:
    """Each /api/v1 operation lists 400/401/403/404/409/413/422/500/503 with the ErrorRead model,
    and a backup route that reaches a destination its 502 as well."""
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
    failing = document["paths"]["/api/v1/backups/targets/{name}/run"]["post"]["responses"]["502"]
    assert failing["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorRead"
    }
    error = document["components"]["schemas"]["ErrorRead"]
    assert set(error["required"]) == {"error", "message", "request_id"}


def test_metrics_declares_prometheus_text(api: Api) -> None:
    """/metrics is declared as text/plain (not JSON), as it answers."""
    document = api.client.get("/api/openapi.json").json()
    content = document["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
    assert list(content) == ["text/plain"]
    answered = api.client.get("/metrics")
    assert answered.headers["content-type"].startswith("text/plain")


def _untyped(schema: Any, components: dict[str, Any], where: str, seen: set[str]) -> list[str]:
    """The places under ``schema`` that say nothing of their content: ``{}`` (any value) or an
    object without properties whose values are unconstrained, unless marked free-form."""
    if not isinstance(schema, dict):
        return []
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        if name in seen:
            return []
        seen.add(name)
        return _untyped(components[name], components, name, seen)
    meaningful = set(schema) - {"title", "description", "default", "examples", "deprecated"}
    if not meaningful:
        return [where]
    if schema.get(FREE_FORM):
        return []
    found: list[str] = []
    extra = schema.get("additionalProperties")
    bare = schema.get("type") == "object" and not schema.get("properties")
    if bare and extra in (None, True, {}):
        found.append(where)
    for key in ("anyOf", "oneOf", "allOf", "prefixItems"):
        for i, part in enumerate(schema.get(key, [])):
            found += _untyped(part, components, f"{where}|{i}", seen)
    for name, part in schema.get("properties", {}).items():
        found += _untyped(part, components, f"{where}.{name}", seen)
    if isinstance(extra, dict) and extra:
        found += _untyped(extra, components, f"{where}[*]", seen)
    if "items" in schema:
        found += _untyped(schema["items"], components, f"{where}[]", seen)
    return found


def test_every_answer_is_typed_in_the_document(api: Api) -> None:
    """Each operation's success answer (200/201/202) has a schema, and nothing in it is an
    untyped value or object (the user's own data is marked free-form and listed below)."""
    document: dict[str, Any] = api.client.get("/api/openapi.json").json()
    components = document["components"]["schemas"]
    problems = []
    free = set()
    for path, item in document["paths"].items():
        for method, op in item.items():
            where = f"{method.upper()} {path}"
            ok = [s for s in ("200", "201", "202") if s in op["responses"]]
            if not ok:
                problems.append(f"{where}: no success answer declared")
            for status in ok:
                content = op["responses"][status].get("content", {})
                if path == "/metrics":
                    assert list(content) == ["text/plain"]
                    continue
                if path.endswith(".md"):  # a document (a post-mortem): Markdown text
                    assert content == {"text/markdown": {"schema": {"type": "string"}}}
                    continue
                schema = content.get("application/json", {}).get("schema")
                if schema is None:
                    problems.append(f"{where} {status}: no JSON schema")
                    continue
                problems += [
                    f"{where} {status}: {p} is untyped"
                    for p in _untyped(schema, components, "answer", set())
                ]
    for name, schema in components.items():
        for field, part in schema.get("properties", {}).items():
            options = [part, *part.get("anyOf", [])]
            if any(isinstance(o, dict) and o.get(FREE_FORM) for o in options):
                free.add(f"{name}.{field}")
    assert not problems, "\n".join(problems)
    # the free-form places: the user's own keys; a new one is a decision, not an accident
    assert free == {
        "AuditRead.detail",
        "FlagsRead.limits",
        "IncidentEventRead.detail",  # each timeline kind (notes, notifications, actions) its own
        "LevelRead.limits",
        "RunDescribed.metadata",
        "RunDetail.source",
        "RunbookRunDetail.params",  # a runbook's own parameters, by their names
        "RunbookRunRead.params",
        "RunbookStepRead.values",  # what each step produced: its kind decides the keys
    }
