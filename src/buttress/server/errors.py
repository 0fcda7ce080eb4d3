"""API errors as JSON: ``{"error": "<code>", "message": "<one clear sentence>", "request_id": ...}``
(plus ``problems`` on a 422): every error the control plane answers has this shape, whether a
route, the request gate or an unhandled exception produced it. Token-shaped strings are masked.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from buttress.config import format_path
from buttress.errors import ButtressError, CatalogError, ConflictError, NotFoundError, UsageError
from buttress.platform.http import ApiError, error_body, error_response
from buttress.secrets import redact_tokens

__all__ = ["ApiError", "error_body", "install_handlers"]

log = logging.getLogger("buttress.server")

_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    408: "request_timeout",
    409: "conflict",
    413: "payload_too_large",
    422: "invalid_request",
    503: "unavailable",
}


def install_handlers(app: FastAPI) -> None:
    """Map HTTP, validation and buttress errors to JSON responses, once for the whole app (a
    component adds the handlers of its own errors: see its ``Contribution``)."""

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        code = getattr(exc, "code", None) or _CODES.get(exc.status_code, "error")
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = _allowed(request) or headers.get("Allow", "")
        return error_response(exc.status_code, code, str(exc.detail), headers or None)

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {"field": redact_tokens(format_path(tuple(e["loc"]))), "message": e["msg"]}
            for e in exc.errors()
        ]
        summary = "; ".join(f"{p['field']}: {p['message']}" for p in problems)
        return error_response(422, "invalid_request", summary, problems=problems)

    @app.exception_handler(NotFoundError)
    async def not_found(_request: Request, exc: NotFoundError) -> JSONResponse:
        return error_response(404, "not_found", str(exc))

    @app.exception_handler(ConflictError)
    async def conflict(_request: Request, exc: ConflictError) -> JSONResponse:
        return error_response(409, "conflict", str(exc))

    @app.exception_handler(UsageError)
    async def usage(_request: Request, exc: UsageError) -> JSONResponse:
        return error_response(422, "invalid_request", str(exc))

    @app.exception_handler(CatalogError)
    async def catalog(_request: Request, exc: CatalogError) -> JSONResponse:
        log.error("catalog error: %s", exc)
        return error_response(503, "unavailable", str(exc))

    @app.exception_handler(ButtressError)
    async def other(_request: Request, exc: ButtressError) -> JSONResponse:
        return error_response(500 if exc.exit_code == 1 else 422, "error", str(exc))


def _allowed(request: Request) -> str:
    # Starlette's 405 names the methods of the first route matching the path only; the path
    # may have several (GET and POST /api/v1/tokens are two routes)
    path = request.url.path
    routes = getattr(request.app.state, "api_routes", [])
    methods = {m for r in routes if r.path_regex.match(path) for m in (r.methods or ())}
    return ", ".join(sorted(methods))
