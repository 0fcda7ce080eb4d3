"""What a domain's API router needs from the control plane, without importing it: the error
that answers with a stable code, and the catalog as a FastAPI dependency.

    from buttress.platform.auth import Operator
    from buttress.platform.http import ApiError, CatalogDep

    @router.post("/things")
    def create(catalog: CatalogDep, who: Operator) -> Thing:
        with catalog.begin() as session:
            ...

The server puts the open catalog on ``app.state.catalog``; the dependency hands it over.

Every error has one shape, :class:`~buttress.platform.schemas.ErrorRead`; the server declares
it for the statuses every ``/api`` route can answer (400, 401, 403, 404, 409, 413, 422, 500,
503), and a route declares the others it answers with :func:`errors` (``responses=errors({502:
"..."})``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from buttress.catalog import Catalog
from buttress.logs import request_id
from buttress.platform.schemas import ErrorRead
from buttress.secrets import redact_tokens

__all__ = [
    "SECURITY_HEADERS",
    "ApiError",
    "CatalogDep",
    "ErrorRead",
    "catalog",
    "error_body",
    "error_response",
    "errors",
]

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
"""The headers of every page the control plane serves to a browser (the dashboard, the
status page): its own resources only, never framed, no sniffing, no referrer."""


class ApiError(HTTPException):
    """An error answered as JSON with a stable machine-readable ``code``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        super().__init__(status_code=status, detail=message, headers=headers)
        self.code = code


def error_body(code: str, message: str, **extra: object) -> dict[str, object]:
    """The JSON body of an error: code, message (token-shaped strings masked), request id."""
    return {
        "error": code,
        "message": redact_tokens(message),
        "request_id": request_id.get(),
        **extra,
    }


def errors(described: Mapping[int, str]) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route: each status, with what it means, answered as
    :class:`ErrorRead` (the OpenAPI document then declares the error shape for it)."""
    return {status: {"model": ErrorRead, "description": why} for status, why in described.items()}


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None, **extra: object
) -> JSONResponse:
    """An error answered in the control plane's one JSON shape (see :func:`error_body`)."""
    return JSONResponse(error_body(code, message, **extra), status_code=status, headers=headers)


def catalog(request: Request) -> Catalog:
    """The control plane's catalog (a FastAPI dependency)."""
    found = request.app.state.catalog
    if not isinstance(found, Catalog):
        raise TypeError("app.state.catalog is not a Catalog: build the app with create_app")
    return found


CatalogDep = Annotated[Catalog, Depends(catalog)]
