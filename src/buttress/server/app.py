"""``create_app``: the control plane as an ASGI application."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles

from buttress._version import __version__
from buttress.catalog import Catalog
from buttress.components import components as listed_components
from buttress.config import ButtressConfig
from buttress.platform.component import Component, Contribution, ServerContext
from buttress.platform.http import SECURITY_HEADERS
from buttress.server.errors import install_handlers
from buttress.server.gate import RequestGate
from buttress.server.metrics import ServerMetrics
from buttress.server.middleware import RequestContextMiddleware
from buttress.server.models import ERROR_RESPONSES
from buttress.server.routers import api, probes

__all__ = ["create_app"]

STATIC = Path(__file__).with_name("static")
_SECURITY_HEADERS = SECURITY_HEADERS  # shared with the domains' pages (the status page)


def create_app(
    catalog: Catalog,
    config: ButtressConfig | None = None,
    *,
    components: Sequence[Component] | None = None,
) -> FastAPI:
    """Build the control-plane app around an open, migrated catalog and the configuration:
    the system routes, then what each component contributes (``components``: those of
    :mod:`buttress.components` by default)."""
    config = config or ButtressConfig()
    metrics = ServerMetrics.create(catalog)
    context = ServerContext(config=config, catalog=catalog, registry=metrics.registry)
    parts = listed_components() if components is None else tuple(components)
    contributions: list[Contribution] = [part.serve(context) for part in parts]
    for contribution in contributions:
        for collector in contribution.collectors:
            metrics.registry.register(collector)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            async with AsyncExitStack() as stack:  # left in reverse order, even on a failure
                for contribution in contributions:
                    if contribution.lifespan is not None:
                        await stack.enter_async_context(contribution.lifespan())
                yield
        finally:
            catalog.dispose()

    app = FastAPI(
        title="buttress control plane",
        version=__version__,
        openapi_url="/api/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.catalog = catalog
    app.state.config = config
    app.state.metrics = metrics
    app.state.readiness = [c.readiness for c in contributions if c.readiness is not None]
    app.state.dashboards = {
        component.name: contribution.dashboard
        for component, contribution in zip(parts, contributions, strict=True)
        if contribution.dashboard is not None
    }
    for contribution in contributions:
        for key, value in contribution.state.items():
            setattr(app.state, key, value)
    app.state.started_at = dt.datetime.now(dt.UTC)
    app.state.started_monotonic = time.monotonic()
    install_handlers(app)
    for contribution in contributions:
        for error, handler in contribution.exception_handlers.items():
            app.add_exception_handler(error, handler)
    app.include_router(probes)
    app.state.api_routes = []  # for the audit of requests the gate refuses before routing
    routers = [api, *(router for c in contributions for router in c.routers)]
    for router in routers:
        app.include_router(router, responses=ERROR_RESPONSES)
        app.state.api_routes.extend(r for r in router.routes if isinstance(r, APIRoute))

    @app.get("/", include_in_schema=False)
    async def dashboard() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers=_SECURITY_HEADERS)

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_middleware(
        RequestGate,
        catalog=catalog,
        max_body_bytes=config.server.max_body_bytes,
        body_timeout=config.server.body_timeout,
    )  # inside the request context: its answers get the request id, the access log, the audit
    app.add_middleware(RequestContextMiddleware, catalog=catalog, metrics=app.state.metrics)
    return app
