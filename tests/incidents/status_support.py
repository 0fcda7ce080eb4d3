"""The status page tests' app: the control plane on a catalog with a configuration given as
YAML (loaded, so the validation step runs), no page cache, and an operator token."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from fastapi.testclient import TestClient

from buttress.catalog import Catalog, tokens
from buttress.config import load_text
from buttress.server.app import create_app

URL = "/api/v1/incidents"


@dataclass
class StatusApp:
    """A test client and an operator token (named ``operator``)."""

    client: TestClient
    catalog: Catalog
    operator: str
    viewer: str

    def auth(self, token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    def declare(self, title: str, severity: str, *services: str) -> str:
        answer = self.client.post(
            URL,
            json={"title": title, "severity": severity, "services": list(services)},
            headers=self.auth(self.operator),
        )
        assert answer.status_code == 201, answer.text
        ref: str = answer.json()["ref"]
        return ref

    def act(self, ref: str, action: str) -> None:
        answer = self.client.post(f"{URL}/{ref}/{action}", headers=self.auth(self.operator))
        assert answer.status_code == 200, answer.text

    def update(self, ref: str, status: str, text: str) -> Any:
        return self.client.post(
            f"{URL}/{ref}/updates",
            json={"status": status, "text": text},
            headers=self.auth(self.operator),
        )

    def page(self) -> dict[str, Any]:
        answer = self.client.get("/status.json")
        assert answer.status_code == 200, answer.text
        found: dict[str, Any] = answer.json()
        return found

    def states(self) -> dict[str, str]:
        return {c["name"]: c["state"] for c in self.page()["components"]}


@contextmanager
def status_app(
    catalog: Catalog, yaml_text: str, *, operator_name: str = "operator"
) -> Iterator[StatusApp]:
    """The app (started: its health monitor runs) for ``yaml_text``."""
    config = load_text(yaml_text, filename="buttress.yaml", env={})
    with catalog.begin() as session:
        operator = tokens.create(
            session=session, name=operator_name, role="operator", created_by="test"
        )[1]
        viewer = tokens.create(session=session, name="viewer", role="viewer", created_by="test")[1]
    with TestClient(create_app(catalog, config), client=("127.0.0.9", 50000)) as client:
        yield StatusApp(client, catalog, operator, viewer)


COMPONENTS = """\
incidents:
  status_page:
    title: Example status
    cache_seconds: 0
    components:
      - {name: Checkout, description: Paying for orders, services: [payments, cart]}
      - {name: Search, services: [search]}
"""
