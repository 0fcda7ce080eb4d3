"""The runbooks API over the real engine and configuration: a runbook's ``role`` is what a
token needs to run it and to answer its confirm steps; runs are audited with the token."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from buttress.catalog import Catalog, audit, tokens
from buttress.config import load
from buttress.server.app import create_app
from tests.conftest import wait_until

URL = "/api/v1/runbooks"
CONFIG = """\
runbooks:
  definitions:
    - name: look
      role: viewer
      steps:
        - name: hello
          command: {argv: [echo, hello]}
    - name: change
      steps:
        - name: hello
          command: {argv: [echo, hello]}
    - name: dangerous
      role: admin
      steps:
        - name: hello
          command: {argv: [echo, hello]}
"""


@pytest.fixture
def client(catalog: Catalog, tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, str]]]:
    (tmp_path / "buttress.yaml").write_text(CONFIG)
    config = load(tmp_path / "buttress.yaml", env={})
    made: dict[str, str] = {}
    with catalog.begin() as session:
        for role in ("admin", "operator", "viewer"):
            made[role] = tokens.create(session=session, name=role, role=role, created_by="t")[1]
    app = create_app(catalog, config)
    with TestClient(app, client=("127.0.0.9", 50000)) as test_client:
        yield test_client, made
        assert app.state.runbooks.join(30)


def _start(client: TestClient, name: str, token: str) -> int:
    return client.post(
        f"{URL}/{name}/runs", json={}, headers={"Authorization": f"Bearer {token}"}
    ).status_code


@pytest.mark.parametrize(
    ("name", "allowed"),
    [
        ("look", {"viewer", "operator", "admin"}),
        ("change", {"operator", "admin"}),
        ("dangerous", {"admin"}),
    ],
)
def test_the_runbooks_role_decides_who_may_run_it(
    client: tuple[TestClient, dict[str, str]], name: str, allowed: set[str]
) -> None:
    """Each role below the runbook's gets 403, each at or above it 202."""
    test_client, made = client
    for role, token in made.items():
        assert _start(test_client, name, token) == (202 if role in allowed else 403), role


def test_a_run_over_the_api_is_audited_with_its_token(
    client: tuple[TestClient, dict[str, str]], catalog: Catalog
) -> None:
    """The start is a runbook.start record naming the token; the run succeeds."""
    test_client, made = client
    auth = {"Authorization": f"Bearer {made['operator']}"}
    run_id = test_client.post(f"{URL}/change/runs", json={}, headers=auth).json()["id"]
    wait_until(
        lambda: (
            test_client.get(f"{URL}/runs/{run_id}", headers=auth).json()["status"] == "succeeded"
        ),
        "the run succeeds",
        30,
    )
    with catalog.begin() as session:
        (record,) = audit.get_all(session=session, action="runbook.start")
        assert (record.actor, record.outcome) == ("operator", "success")
