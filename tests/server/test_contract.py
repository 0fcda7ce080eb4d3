"""The OpenAPI document is the contract: what the routes answer, on an app with every domain
configured (a backup taken, health checks, degradation levels, resilience policies),
validates against the schema the document declares for that status, and the route's model
reads it back to the same JSON (so no key is answered that the model does not declare)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel, TypeAdapter

from buttress import flags
from buttress.backup.keys import generate_identity
from buttress.backup.schemas import (
    BackupRunRead,
    PruneRead,
    RestoreRead,
    RunDescribed,
    TargetSummary,
)
from buttress.backup.service import Backups
from buttress.catalog import Catalog, tokens
from buttress.config import load
from buttress.degradation.schemas import FlagsRead, LevelRead, OverrideCleared, OverrideSet
from buttress.health.schemas import HealthRead
from buttress.jobs.api import ClusterRead, JobRead
from buttress.jobs.api import RunRead as JobRunRead
from buttress.resilience.api import PolicyRead
from buttress.server.app import create_app
from buttress.server.models import AuditRead, Liveness, ReadyRead, StatusRead, WhoAmI


@pytest.fixture
def served(tmp_path: Path, catalog: Catalog) -> Iterator[tuple[TestClient, dict[str, str], str]]:
    """The app, an admin token, and the id of a good backup of a directory target."""
    recipient = generate_identity(tmp_path / "key.txt")
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text("<h1>hi</h1>\n")
    (tmp_path / "restores").mkdir()
    (tmp_path / "buttress.yaml").write_text(
        "backup:\n"
        f"  recipients: [{recipient}]\n"
        f"  identity_files: [{tmp_path / 'key.txt'}]\n"
        f"  restore_roots: [{tmp_path / 'restores'}]\n"
        f"  destinations:\n    - {{name: local, path: {tmp_path / 'repo'}}}\n"
        "  targets:\n"
        f"    - {{name: site, source: directory, path: {site}, schedule: '0 3 * * *'}}\n"
        "health:\n"
        "  checks:\n"
        "    - {name: queue, type: tcp, host: 127.0.0.1, port: 1, timeout: 100ms, critical: true}\n"
        "  degradation:\n"
        "    features: [exports]\n"
        "    limits: {orders_per_minute: 500}\n"
        "    levels: traffic_light\n"
        "resilience:\n  policies:\n"
        "    database: {retry: {attempts: 2}, circuit_breaker: {wait: 5s}, timeout: {seconds: 1}}\n"
        "    payments: {rate_limit: {rate: 5, per: 1s}, bulkhead: {max_concurrent: 2}}\n"
    )
    config = load(tmp_path / "buttress.yaml")
    backup_id = Backups(config.backup, catalog).run("site").id
    with catalog.begin() as session:
        admin = tokens.create(session=session, name="admin", role="admin", created_by="t")[1]
    try:
        with TestClient(create_app(catalog, config), client=("127.0.0.9", 5)) as client:
            yield client, {"Authorization": f"Bearer {admin}"}, backup_id
    finally:
        flags.publish(None, frozenset(), {})


def _documented(document: dict[str, Any], path: str, method: str, status: int) -> dict[str, Any]:
    operation = document["paths"][path][method]
    schema = operation["responses"][str(status)]["content"]["application/json"]["schema"]
    return {**schema, "components": document["components"]}


def test_answers_match_the_document_and_the_models(
    served: tuple[TestClient, dict[str, str], str], tmp_path: Path
) -> None:
    client, auth, backup_id = served
    document = client.get("/api/openapi.json").json()
    runs = f"/api/v1/backups/runs/{backup_id}"
    calls: list[tuple[str, str, str, dict[str, Any] | None, Any]] = [
        ("get", "/healthz", "/healthz", None, Liveness),
        ("get", "/readyz", "/readyz", None, ReadyRead),  # 503: the critical check is down
        ("get", "/api/v1/status", "/api/v1/status", None, StatusRead),
        ("get", "/api/v1/whoami", "/api/v1/whoami", None, WhoAmI),
        ("get", "/api/v1/health", "/api/v1/health", None, HealthRead),
        ("get", "/api/v1/level", "/api/v1/level", None, LevelRead),
        ("get", "/api/v1/flags", "/api/v1/flags", None, FlagsRead),
        (
            "post",
            "/api/v1/level/override",
            "/api/v1/level/override",
            {"level": "RED", "for": "10m", "reason": "contract test"},
            OverrideSet,
        ),
        ("get", "/api/v1/level", "/api/v1/level", None, LevelRead),  # with the override
        ("delete", "/api/v1/level/override", "/api/v1/level/override", None, OverrideCleared),
        ("get", "/api/v1/backups/targets", "/api/v1/backups/targets", None, list[TargetSummary]),
        ("get", "/api/v1/backups/runs", "/api/v1/backups/runs", None, list[BackupRunRead]),
        ("get", "/api/v1/backups/runs/{backup_id}", runs, None, RunDescribed),
        (
            "post",
            "/api/v1/backups/runs/{backup_id}/restore",
            f"{runs}/restore",
            {"to": str(tmp_path / "restores" / "here")},
            RestoreRead,
        ),
        ("post", "/api/v1/backups/prune", "/api/v1/backups/prune", {}, PruneRead),
        (
            "get",
            "/api/v1/resilience/policies",
            "/api/v1/resilience/policies",
            None,
            list[PolicyRead],
        ),
        (
            "post",
            "/api/v1/resilience/policies/{name}/breaker",
            "/api/v1/resilience/policies/database/breaker",
            {"action": "force_open"},
            PolicyRead,
        ),
        ("get", "/api/v1/cluster", "/api/v1/cluster", None, ClusterRead),
        ("get", "/api/v1/jobs", "/api/v1/jobs", None, list[JobRead]),
        ("get", "/api/v1/jobs/runs", "/api/v1/jobs/runs", None, list[JobRunRead]),
        ("get", "/api/v1/audit", "/api/v1/audit", None, list[AuditRead]),
    ]
    for method, route, url, body, model in calls:
        answer = client.request(method, url, json=body, headers=auth)
        assert answer.status_code in (200, 201, 202, 503), (url, answer.text)
        found = answer.json()
        schema = _documented(document, route, method, answer.status_code)
        try:
            jsonschema.validate(found, schema, cls=jsonschema.Draft202012Validator)
        except jsonschema.ValidationError as exc:
            pytest.fail(f"{method.upper()} {url}: {exc.message} at {list(exc.absolute_path)}")
        adapter: TypeAdapter[Any] = TypeAdapter(model)
        read = adapter.validate_python(found)
        again = adapter.dump_python(read, mode="json", exclude_unset=True)
        assert again == found, f"{method.upper()} {url}: the model does not say it all"
    ready = client.get("/readyz").json()
    assert ready["status"] == "not ready"
    queue = ready["checks"]["queue"]
    assert queue == {"ok": False, "status": "down", "detail": queue["detail"]}  # no null keys
    described = client.get(runs, headers=auth).json()
    assert described["artifacts"]
    assert described["copies"][0]["stored"]
    assert set(described["detail"]) == {"trigger", "timings", "source"}  # no null parts


def test_a_model_that_says_less_than_the_answer_is_caught() -> None:
    """The round trip above fails when an answer carries a key its model does not declare."""

    class Narrow(BaseModel):
        status: str

    adapter: TypeAdapter[Narrow] = TypeAdapter(Narrow)
    answered = {"status": "ok", "extra": 1}
    assert adapter.dump_python(adapter.validate_python(answered), mode="json") != answered
