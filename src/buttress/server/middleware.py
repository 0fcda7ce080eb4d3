"""The one middleware every request passes: request id, access log, metrics and audit.

Mutating API calls (POST, PUT, PATCH, DELETE under ``/api/``) get an audit record written
*before* their response starts, so a client that saw the answer can rely on the record, whatever
the outcome: an unhandled exception is answered here as a JSON 500 with the request id (and
audited as ``failed``), and a request that ends with no response at all is audited too.
A client's ``X-Request-ID`` is kept only with token-shaped strings masked.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import time
from typing import TYPE_CHECKING, Any

import anyio.to_thread
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from buttress.catalog import Catalog, audit
from buttress.errors import CatalogError
from buttress.logs import request_id
from buttress.platform.http import error_body
from buttress.secrets import redact_tokens

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
        started_response = written = False
        self.metrics.in_flight.inc()

        async def send_wrapper(message: Message) -> None:
            nonlocal status, started_response, written
            if message["type"] == "http.response.start":
                status, started_response = message["status"], True
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", rid.encode())]
                if audited:
                    written = True
                    await self._audit(scope, status, rid)
            await send(message)

        try:
            try:
                await self.app(scope, receive, send_wrapper)
            except Exception:
                log.exception("unhandled error in %s %s", method, path)
                if started_response:
                    raise  # too late for an error response: the connection is cut
                await _internal_error(send_wrapper, rid)
            if audited and not written:
                await self._audit(scope, status, rid)  # no response at all (client gone)
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
        route, params = scope.get("route"), scope.get("path_params") or {}
        if route is None:  # refused by the gate before routing: find the route it was meant for
            route, params = _match(scope)
        action = getattr(route, "name", None) or f"{scope['method']} {_route(scope)}"
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


async def _internal_error(send: Send, rid: str) -> None:
    body = error_body(
        "internal_error",
        f"internal error: the server log has the details (request id {rid})",
    )
    payload = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(payload))]
    await send({"type": "http.response.start", "status": 500, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


def _request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == b"x-request-id":
            text: str = value.decode("latin-1")
            if _GOOD_ID.fullmatch(text):
                return redact_tokens(text)
    return secrets.token_hex(8)


def _match(scope: Scope) -> tuple[Any, dict[str, Any]]:
    state = getattr(scope.get("app"), "state", None)
    for route in getattr(state, "api_routes", ()):
        match, child = route.matches(scope)
        if match is Match.FULL:
            return route, dict(child.get("path_params") or {})
    return None, {}


def _route(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "<unmatched>"


def _client(scope: Scope) -> str:
    client = scope.get("client")
    return f"{client[0]}" if client else ""
