"""API payloads (pydantic): what the control plane accepts and answers."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from buttress.catalog.tokens import Role
from buttress.platform.schemas import ErrorRead, JsonObject, Problem, Readiness

__all__ = [
    "ERROR_RESPONSES",
    "AuditRead",
    "ErrorRead",
    "Liveness",
    "Problem",
    "ReadyRead",
    "StatusRead",
    "TokenCreate",
    "TokenCreated",
    "TokenRead",
    "WhoAmI",
]


class _Read(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class TokenCreate(BaseModel):
    """A new API token's name and role."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(
        min_length=1,
        max_length=100,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9 _.@:-]{0,99}$",  # as tokens.create checks it
        examples=["ci-deploy"],
    )
    role: Role = Field(default=Role.VIEWER)


class TokenRead(_Read):
    """An API token as listed: never its secret."""

    id: str
    name: str
    role: Role
    created_at: dt.datetime
    created_by: str
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None


class TokenCreated(TokenRead):
    """A token just created: ``token`` is shown this once and cannot be retrieved again."""

    token: str


class AuditRead(_Read):
    """One audit record."""

    id: int
    at: dt.datetime
    actor: str
    action: str
    target: str
    client: str
    outcome: str
    status: int | None
    request_id: str
    detail: JsonObject = Field(description="What the action was done with (its own keys).")


class StatusRead(BaseModel):
    """What the status page shows."""

    version: str
    started_at: dt.datetime
    uptime_seconds: float
    catalog_backend: str
    catalog_location: str
    catalog_revision: str | None


class Liveness(BaseModel):
    """The process answers."""

    status: Literal["ok"] = "ok"


class ReadyRead(BaseModel):
    """Whether this instance is ready (200) or not (503), and each condition's answer."""

    status: Literal["ready", "not ready"]
    checks: dict[str, Readiness] = Field(
        description="The catalog, each critical health check, the scheduler: by name."
    )


class WhoAmI(BaseModel):
    """The caller, as its token says."""

    token_id: str
    name: str
    role: Role


def _error(description: str) -> dict[str, Any]:
    return {"model": ErrorRead, "description": description}


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _error("Malformed request (e.g. a bad Content-Length)"),
    401: _error("No API token, or an invalid or revoked one"),
    403: _error("The token's role does not allow this"),
    404: _error("No such object or route"),
    408: _error("The request body did not arrive within server.body_timeout"),
    409: _error("Conflicts with the current state"),
    413: _error("The request body is larger than server.max_body_bytes"),
    422: _error("Invalid input: each field is named in problems"),
    500: _error("Internal error: the request id names it in the server log"),
    503: _error("The catalog (or a service the route needs) does not answer"),
}
"""The error responses every ``/api`` route declares in the OpenAPI document."""
