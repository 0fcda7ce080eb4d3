"""The component contract: what a component contributes is what the control plane serves."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from buttress.catalog import Catalog, catalog_url, tokens
from buttress.config import ButtressConfig
from buttress.errors import ButtressError
from buttress.platform.auth import Viewer
from buttress.platform.component import Component, Contribution, ServerContext
from buttress.platform.http import CatalogDep, error_response
from buttress.platform.schemas import Readiness
from buttress.server.app import create_app


class _Refused(ButtressError):
    """An error of the probe domain, answered by its own handler."""


class _Gauge(Collector):
    def collect(self) -> Any:
        yield GaugeMetricFamily("buttress_probe_answer", "The probe component's gauge.", 42)


async def _refused(_request: Request, exc: _Refused) -> JSONResponse:
    return error_response(418, "probe_refused", str(exc))


class _Probe(Component):
    """A component that uses every part of the contract and records its lifespan."""

    name = "probe"

    def __init__(self, log: list[str], tag: str, *, ready: bool = True) -> None:
        self.log, self.tag, self.ready = log, tag, ready

    def serve(self, ctx: ServerContext) -> Contribution:
        router = APIRouter(prefix=f"/api/v1/{self.tag}")
        ctx.provide(f"{self.tag}.value", self.tag.upper())

        @router.get("/hello")
        def hello(catalog: CatalogDep, who: Viewer) -> dict[str, str]:
            return {"who": who.name, "catalog": catalog.backend}

        @router.get("/refuse")
        def refuse(_who: Viewer) -> dict[str, str]:
            raise _Refused("no")

        @asynccontextmanager
        async def lifespan() -> AsyncIterator[None]:
            self.log.append(f"start {self.tag}")
            try:
                yield
            finally:
                self.log.append(f"stop {self.tag}")

        def readiness() -> Mapping[str, Readiness]:
            return {self.tag: Readiness(ok=self.ready)}

        return Contribution(
            routers=[router],
            collectors=[_Gauge()] if self.tag == "one" else [],
            lifespan=lifespan,
            readiness=readiness,
            exception_handlers={_Refused: _refused},
            state={f"{self.tag}_thing": self.tag},
            dashboard=f"/api/v1/{self.tag}/hello",
        )


class _Other(_Probe):
    name = "other"


class _Reader(Component):
    """A component that reads what an earlier one provided."""

    name = "reader"

    def __init__(self) -> None:
        self.seen: str | None = None

    def serve(self, ctx: ServerContext) -> Contribution:
        self.seen = ctx.require("one.value", str)
        return Contribution()


@pytest.fixture
def sqlite_catalog(tmp_path: Path) -> Catalog:
    catalog = Catalog(catalog_url(None, tmp_path))
    catalog.upgrade()
    return catalog


def _viewer(catalog: Catalog) -> dict[str, str]:
    with catalog.begin() as session:
        text = tokens.create(session=session, name="v", role="viewer", created_by="test")[1]
    return {"Authorization": f"Bearer {text}"}


def test_a_components_routes_collectors_state_and_handlers_are_served(
    sqlite_catalog: Catalog,
) -> None:
    """Routes (behind the gate and role checks), collectors, app.state entries, exception
    handlers and dashboard endpoints come from the components handed to create_app."""
    log: list[str] = []
    reader = _Reader()
    app = create_app(
        sqlite_catalog,
        ButtressConfig(),
        components=[_Probe(log, "one"), _Other(log, "two"), reader],
    )
    auth = _viewer(sqlite_catalog)
    with TestClient(app) as client:
        assert client.get("/api/v1/one/hello").status_code == 401  # the gate guards it
        answer = client.get("/api/v1/one/hello", headers=auth)
        assert answer.json() == {"who": "v", "catalog": "sqlite"}
        refused = client.get("/api/v1/two/refuse", headers=auth)
        assert (refused.status_code, refused.json()["error"]) == (418, "probe_refused")
        assert "buttress_probe_answer 42.0" in client.get("/metrics").text
        assert "/api/v1/one/hello" in client.get("/api/openapi.json").json()["paths"]
        assert (app.state.one_thing, app.state.two_thing) == ("one", "two")
        assert app.state.dashboards == {"probe": "/api/v1/one/hello", "other": "/api/v1/two/hello"}
    assert reader.seen == "ONE"


def test_lifespans_start_in_list_order_and_stop_in_reverse(sqlite_catalog: Catalog) -> None:
    """Each component's lifespan is entered in list order and left in reverse."""
    log: list[str] = []
    app = create_app(sqlite_catalog, components=[_Probe(log, "one"), _Other(log, "two")])
    with TestClient(app):
        assert log == ["start one", "start two"]
    assert log == ["start one", "start two", "stop two", "stop one"]


def test_readiness_checks_of_components_decide_readyz(sqlite_catalog: Catalog) -> None:
    """/readyz answers 503 and names the component's check when one is not ready."""
    log: list[str] = []
    parts: Sequence[Component] = [_Probe(log, "one"), _Other(log, "two", ready=False)]
    with TestClient(create_app(sqlite_catalog, components=parts)) as client:
        answer = client.get("/readyz")
    assert answer.status_code == 503
    assert answer.json()["checks"]["one"] == {"ok": True}
    assert answer.json()["checks"]["two"] == {"ok": False}
    assert answer.json()["checks"]["catalog"]["ok"] is True


def test_require_names_a_missing_provider(sqlite_catalog: Catalog) -> None:
    """A component that needs what no earlier component provides fails at build, saying so."""
    with pytest.raises(LookupError, match=r"'one\.value' is not provided"):
        create_app(sqlite_catalog, components=[_Reader()])
