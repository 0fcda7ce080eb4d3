"""The one middleware every request passes: request id, access log, metrics and audit.

Mutating API calls (POST, PUT, PATCH, DELETE under ``/api/``) get an audit record written
*before* their response starts, so a client that saw the answer can rely on the record.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from typing import TYPE_CHECKING, Any

import anyio.to_thread
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from buttress.catalog import Catalog, audit
from buttress.errors import CatalogError
from buttress.logs import request_id

if TYPE_CHECKING:
    from buttress.server.metrics import ServerMetrics

__all__ = ["RequestContextMiddleware"]

log = logging.getLogger("buttress.access")
_MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_GOOD_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


class RequestContextMiddleware:
    """Adds ``X-Request-ID``, logs one access line, counts the request, audits mutations."""

    def __init__(self, app: ASGIApp, *, catalog: Catalog, metrics: ServerMetrics) -> None:
        self.app = app
        self.catalog = catalog
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = _request_id(scope)
        token = request_id.set(rid)
        method: str = scope["method"]
        path: str = scope["path"]
        audited = method in _MUTATING and path.startswith("/api/")
        started = time.perf_counter()
        status = 500
        self.metrics.in_flight.inc()

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", rid.encode())]
                if audited:
                    await self._audit(scope, status, rid)
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            elapsed = time.perf_counter() - started
            route = _route(scope)
            self.metrics.in_flight.dec()
            self.metrics.requests.labels(method, route, str(status)).inc()
            self.metrics.duration.labels(method, route).observe(elapsed)
            level = logging.DEBUG if path in ("/healthz", "/readyz", "/metrics") else logging.INFO
            log.log(
                level,
                "%s %s %d %.1fms",
                method,
                path,
                status,
                elapsed * 1000,
                extra={"client": _client(scope)},
            )
            request_id.reset(token)

    async def _audit(self, scope: Scope, status: int, rid: str) -> None:
        state: dict[str, Any] = scope.get("state", {})
        principal = state.get("principal")
        actor = principal.actor if principal is not None else "anonymous"
        route = scope.get("route")
        action = getattr(route, "name", None) or f"{scope['method']} {_route(scope)}"
        params = scope.get("path_params") or {}
        target = state.get("audit_target") or ",".join(f"{k}={v}" for k, v in params.items())
        outcome: audit.Outcome = (
            "success" if status < 400 else "denied" if status in (401, 403) else "failed"
        )
        detail = dict(state.get("audit_detail") or {})
        detail.setdefault("method", scope["method"])
        detail.setdefault("path", scope["path"])

        def write() -> None:
            with self.catalog.begin() as session:
                audit.record(
                    session=session,
                    actor=actor,
                    action=action,
                    target=target,
                    client=_client(scope),
                    outcome=outcome,
                    status=status,
                    request_id=rid,
                    detail=detail,
                )

        try:
            await anyio.to_thread.run_sync(write)
        except CatalogError as exc:
            self.metrics.audit_errors.inc()
            log.error("could not write the audit record for %s: %s", action, exc)


def _request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == b"x-request-id":
            text: str = value.decode("latin-1")
            if _GOOD_ID.fullmatch(text):
                return text
    return secrets.token_hex(8)


def _route(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "<unmatched>"


def _client(scope: Scope) -> str:
    client = scope.get("client")
    return f"{client[0]}" if client else ""
