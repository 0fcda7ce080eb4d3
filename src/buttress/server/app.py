"""``create_app``: the control plane as an ASGI application."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles

from buttress import events
from buttress._version import __version__
from buttress.backup.api import router as backup_api
from buttress.backup.metrics import BackupMetrics
from buttress.backup.scheduler import BackupScheduler
from buttress.backup.service import Backups
from buttress.catalog import Catalog
from buttress.config import ButtressConfig
from buttress.health.api import router as health_api
from buttress.health.build import build_checks
from buttress.health.controller import DegradationController
from buttress.health.embed import controller_from_config
from buttress.health.level_api import router as level_api
from buttress.health.level_metrics import LevelCollector
from buttress.health.metrics import HealthCollector
from buttress.health.monitor import HealthMonitor
from buttress.resilience.api import router as resilience_api
from buttress.server.errors import install_handlers
from buttress.server.gate import RequestGate
from buttress.server.metrics import ServerMetrics
from buttress.server.middleware import RequestContextMiddleware
from buttress.server.models import ERROR_RESPONSES
from buttress.server.routers import api, probes

__all__ = ["create_app"]

STATIC = Path(__file__).with_name("static")
_SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def create_app(catalog: Catalog, config: ButtressConfig | None = None) -> FastAPI:
    """Build the control-plane app around an open, migrated catalog and the configuration
    (its backup targets, their schedules)."""
    config = config or ButtressConfig()
    metrics = ServerMetrics.create(catalog)
    backup_metrics = BackupMetrics(metrics.registry, config.backup, catalog)
    scheduler = BackupScheduler(config.backup, lambda: Backups(config.backup, catalog))
    monitor = HealthMonitor(
        build_checks(config.health, config.base_dir),
        history=config.health.history,
        window=config.health.window,
    )
    metrics.registry.register(HealthCollector(monitor))
    degradation = _degradation(config, catalog, monitor)
    if degradation is not None:
        metrics.registry.register(LevelCollector(degradation))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        events.subscribe(backup_metrics)
        scheduler.start()
        monitor.start()
        if degradation is not None:
            degradation.start()
        try:
            yield
        finally:
            if degradation is not None:
                await degradation.stop()
            await monitor.stop()
            scheduler.stop()
            events.unsubscribe(backup_metrics)
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
    app.state.scheduler = scheduler
    app.state.health = monitor
    app.state.degradation = degradation
    app.state.metrics = metrics
    app.state.started_at = dt.datetime.now(dt.UTC)
    app.state.started_monotonic = time.monotonic()
    install_handlers(app)
    app.include_router(probes)
    app.state.api_routes = []  # for the audit of requests the gate refuses before routing
    for router in (api, backup_api, health_api, level_api, resilience_api):
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


def _degradation(
    config: ButtressConfig, catalog: Catalog, monitor: HealthMonitor
) -> DegradationController | None:
    """The degradation controller of ``health.degradation`` (None when not configured): it
    follows the overrides kept in the catalog, so that the CLI and every replica agree."""
    if config.health.degradation is None:
        return None
    return controller_from_config(config, monitor, catalog)
