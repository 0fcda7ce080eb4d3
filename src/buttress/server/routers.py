"""The control plane's routes: probes, metrics, and the foundation's ``/api/v1`` endpoints."""

from __future__ import annotations

import time
from typing import Annotated

import anyio.to_thread
from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from buttress._version import __version__
from buttress.catalog import audit as audit_log
from buttress.catalog import migrate, tokens
from buttress.errors import CatalogError
from buttress.platform.auth import Admin, Viewer
from buttress.platform.http import catalog as _catalog
from buttress.platform.schemas import Readiness
from buttress.server.models import (
    AuditRead,
    Liveness,
    ReadyRead,
    StatusRead,
    TokenCreate,
    TokenCreated,
    TokenRead,
    WhoAmI,
)
from buttress.server.payload import INT64

__all__ = ["api", "probes"]

probes = APIRouter(tags=["probes"])
api = APIRouter(prefix="/api/v1")


@probes.get("/healthz", summary="Liveness: the process answers", response_model=Liveness)
async def healthz() -> Liveness:
    return Liveness()


@probes.get(
    "/readyz",
    summary="Readiness: the catalog and every critical dependency answer",
    response_model=ReadyRead,
    response_model_exclude_none=True,
    responses={503: {"model": ReadyRead, "description": "Not ready: a check's ok is false"}},
)
async def readyz(request: Request) -> JSONResponse:
    catalog = _catalog(request)
    checks: dict[str, Readiness] = {}
    started = time.perf_counter()
    try:
        await anyio.to_thread.run_sync(catalog.ping)
        checks["catalog"] = Readiness(
            ok=True, latency_ms=round((time.perf_counter() - started) * 1000, 2)
        )
    except CatalogError as exc:
        checks["catalog"] = Readiness(ok=False, error=str(exc))
    for readiness in getattr(request.app.state, "readiness", ()):
        # each component's (the health checks marked critical); a plain mapping is checked
        checks.update((k, Readiness.model_validate(v)) for k, v in readiness().items())
    ready = all(c.ok for c in checks.values())
    answer = ReadyRead(status="ready" if ready else "not ready", checks=checks)
    return JSONResponse(
        answer.model_dump(mode="json", exclude_none=True), status_code=200 if ready else 503
    )


@probes.get(
    "/metrics",
    summary="Prometheus metrics (text exposition format)",
    response_class=PlainTextResponse,
    responses={
        200: {
            "description": "The Prometheus text exposition format",
            "content": {CONTENT_TYPE_LATEST.split(";")[0]: {"schema": {"type": "string"}}},
        }
    },
)
def metrics(request: Request) -> Response:
    data = generate_latest(request.app.state.metrics.registry)
    return PlainTextResponse(data, media_type=CONTENT_TYPE_LATEST)


@api.get("/status", tags=["system"], response_model=StatusRead)
def status(request: Request, _who: Viewer) -> StatusRead:
    """Version, uptime and catalog backend of this control-plane instance."""
    catalog = _catalog(request)
    state = request.app.state
    return StatusRead(
        version=__version__,
        started_at=state.started_at,
        uptime_seconds=round(time.monotonic() - state.started_monotonic, 3),
        catalog_backend=catalog.backend,
        catalog_location=catalog.location,
        catalog_revision=migrate.current(catalog),
    )


@api.get("/whoami", tags=["system"], response_model=WhoAmI)
def whoami(who: Viewer) -> WhoAmI:
    """The token the request was made with: its id, name and role."""
    return WhoAmI(token_id=who.token_id, name=who.name, role=who.role)


@api.get("/tokens", tags=["tokens"], response_model=list[TokenRead])
def list_tokens(request: Request, _who: Admin, include_revoked: bool = False) -> list[TokenRead]:
    """Every API token (never their secrets)."""
    with _catalog(request).begin() as session:
        rows = tokens.get_all(session=session, include_revoked=include_revoked)
        return [TokenRead.model_validate(r) for r in rows]


@api.post(
    "/tokens", tags=["tokens"], name="token.create", status_code=201, response_model=TokenCreated
)
def create_token(request: Request, body: TokenCreate, who: Admin) -> TokenCreated:
    """Create a token; the response carries the token text, shown this once."""
    with _catalog(request).begin() as session:
        row, text = tokens.create(
            session=session, name=body.name, role=body.role, created_by=who.actor
        )
        created = TokenCreated(token=text, **TokenRead.model_validate(row).model_dump())
    request.state.audit_target = f"token_id={row.id}"
    request.state.audit_detail = {"name": row.name, "role": row.role}
    return created


@api.delete("/tokens/{token_id}", tags=["tokens"], name="token.revoke", response_model=TokenRead)
def revoke_token(request: Request, token_id: str, _who: Admin) -> TokenRead:
    """Revoke a token by id; requests made with it are refused from now on."""
    with _catalog(request).begin() as session:
        return TokenRead.model_validate(tokens.revoke(session=session, token_id=token_id))


@api.get("/audit", tags=["audit"], response_model=list[AuditRead])
def list_audit(
    request: Request,
    _who: Admin,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before_id: Annotated[
        int | None, Query(ge=1, le=INT64[1], description="page: records older than this id")
    ] = None,
    actor: str | None = None,
    action: str | None = None,
) -> list[AuditRead]:
    """Audit records, newest first."""
    with _catalog(request).begin() as session:
        rows = audit_log.get_all(
            session=session, limit=limit, before_id=before_id, actor=actor, action=action
        )
        return [AuditRead.model_validate(r) for r in rows]
