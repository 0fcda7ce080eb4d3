"""``create_app``: the control plane as an ASGI application."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from buttress._version import __version__
from buttress.catalog import Catalog
from buttress.server.errors import install_handlers
from buttress.server.metrics import ServerMetrics
from buttress.server.middleware import RequestContextMiddleware
from buttress.server.routers import api, probes

__all__ = ["create_app"]

STATIC = Path(__file__).with_name("static")
_SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def create_app(catalog: Catalog) -> FastAPI:
    """Build the control-plane app around an open, migrated catalog."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
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
    app.state.metrics = ServerMetrics.create(catalog)
    app.state.started_at = dt.datetime.now(dt.UTC)
    app.state.started_monotonic = time.monotonic()
    install_handlers(app)
    app.include_router(probes)
    app.include_router(api)

    @app.get("/", include_in_schema=False)
    async def dashboard() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers=_SECURITY_HEADERS)

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_middleware(RequestContextMiddleware, catalog=catalog, metrics=app.state.metrics)
    return app
