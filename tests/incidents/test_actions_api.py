"""The automated actions through the control plane: an incident declared through the API runs
its rule on the escalation timer (the component's wiring), ``GET .../actions`` lists the runs
(viewer), ``POST .../actions/{rule}/dry-run`` says what a rule would do (operator) and changes
nothing; ``buttress incident actions-log`` shows the same runs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from buttress.catalog import Catalog, tokens
from buttress.catalog.engine import catalog_url
from buttress.cli import app as cli
from buttress.config import load_text
from buttress.incidents.actions import Actions
from buttress.incidents.service import get
from buttress.server.app import create_app
from tests.conftest import wait_until
from tests.incidents.notify_receivers import Receiver, receiver

__all__ = ["receiver"]

URL = "/api/v1/incidents"


def config_text(url: str) -> str:
    return (
        "incidents:\n"
        "  allowed_actions: [webhook]\n"
        "  actions:\n"
        f"    - {{name: tell-status, severities: [P1], do: {{type: webhook, url: '{url}/a'}}}}\n"
        f"    - {{name: later, statuses: [resolved], do: {{type: webhook, url: '{url}/b'}}}}\n"
    )


@pytest.fixture
def client(catalog: Catalog, receiver: Receiver) -> Iterator[tuple[TestClient, dict[str, str]]]:
    with catalog.begin() as session:
        made = {
            role: tokens.create(session=session, name=role, role=role, created_by="test")[1]
            for role in ("operator", "viewer")
        }
    app = create_app(catalog, load_text(config_text(receiver.url)))
    with TestClient(app, client=("127.0.0.9", 50000)) as test_client:
        yield test_client, made


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_declared_incident_runs_its_rule_and_the_runs_are_listed(
    client: tuple[TestClient, dict[str, str]], receiver: Receiver
) -> None:
    """The P1 rule's webhook is called once after the incident's first escalation step; the
    run is listed with outcome ok, and an `action` event is in the timeline."""
    http, made = client
    answer = http.post(
        URL, json={"title": "checkout down", "severity": "P1"}, headers=_auth(made["operator"])
    )
    assert answer.status_code == 201, answer.text
    ref = answer.json()["ref"]

    def listed() -> list[dict[str, Any]]:
        got = http.get(f"{URL}/{ref}/actions", headers=_auth(made["viewer"]))
        assert got.status_code == 200, got.text
        rows: list[dict[str, Any]] = got.json()
        return rows

    wait_until(lambda: any(r["outcome"] == "ok" for r in listed()), "the action's run")
    (run,) = listed()
    assert (run["rule"], run["status"], run["dry_run"]) == ("tell-status", "triggered", False)
    assert run["what"].startswith("POST http://127.0.0.1:")
    assert (run["error"], run["result"]["status"], run["result"]["attempts"]) == (None, 200, 1)
    assert [r.path for r in receiver.requests] == ["/a"]
    timeline = http.get(f"{URL}/{ref}", headers=_auth(made["viewer"])).json()["timeline"]
    assert [e["detail"]["rule"] for e in timeline if e["kind"] == "action"] == ["tell-status"]


def test_the_dry_run_route_says_what_a_rule_would_do_and_changes_nothing(
    client: tuple[TestClient, dict[str, str]], receiver: Receiver, catalog: Catalog
) -> None:
    """`later` (resolved only) on a triggered incident: no_match, what it would do; nothing
    sent, no run recorded; a viewer may not ask; an unknown rule is a 404."""
    http, made = client
    ref = http.post(
        URL, json={"title": "slow search", "severity": "P3"}, headers=_auth(made["operator"])
    ).json()["ref"]
    path = f"{URL}/{ref}/actions/later/dry-run"
    answer = http.post(path, headers=_auth(made["operator"]))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["decision"] == "no_match"
    assert body["type"] == "webhook"
    assert body["what"].startswith("would POST http://127.0.0.1:")
    assert body["status"] == "triggered"
    assert http.post(path, headers=_auth(made["viewer"])).status_code == 403
    assert (
        http.post(f"{URL}/{ref}/actions/nope/dry-run", headers=_auth(made["operator"])).status_code
        == 404
    )
    assert receiver.requests == []
    assert http.get(f"{URL}/{ref}/actions", headers=_auth(made["viewer"])).json() == []


def test_the_cli_shows_the_runs_of_an_incident(tmp_path: Path, receiver: Receiver) -> None:
    """`buttress incident actions-log REF --json` lists the runs recorded in the catalog."""
    config = tmp_path / "buttress.yaml"
    config.write_text(config_text(receiver.url))
    base = ["--config", str(config), "--data-dir", str(tmp_path), "incident"]
    declared = CliRunner().invoke(cli, [*base, "declare", "db down", "--severity", "P1"])
    assert declared.exit_code == 0, declared.output
    ref = declared.stdout.strip()
    # the CLI has no escalation timer: run the rules as the control plane's step would
    cat = Catalog(catalog_url(None, tmp_path))
    try:
        with cat.begin() as session:
            incident_id = get(session=session, ref=ref).id
        Actions(cat, load_text(config_text(receiver.url))).run_for(incident_id)
    finally:
        cat.dispose()
    shown = CliRunner().invoke(cli, [*base, "actions-log", ref, "--json"])
    assert shown.exit_code == 0, shown.output
    (run,) = json.loads(shown.stdout)
    assert (run["rule"], run["outcome"]) == ("tell-status", "ok")
    table = CliRunner().invoke(cli, [*base, "actions-log", ref])
    assert "tell-status" in table.stdout
    missing = CliRunner().invoke(cli, [*base, "actions-log", "INC-2000-0001"])
    assert missing.exit_code != 0
