"""API payloads (pydantic): what the control plane accepts and answers."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from buttress.catalog.tokens import Role

__all__ = ["AuditRead", "StatusRead", "TokenCreate", "TokenCreated", "TokenRead", "WhoAmI"]


class _Read(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class TokenCreate(BaseModel):
    """A new API token's name and role."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100, examples=["ci-deploy"])
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
    detail: dict[str, Any]


class StatusRead(BaseModel):
    """What the status page shows."""

    version: str
    started_at: dt.datetime
    uptime_seconds: float
    catalog_backend: str
    catalog_location: str
    catalog_revision: str | None


class WhoAmI(BaseModel):
    """The caller, as its token says."""

    token_id: str
    name: str
    role: Role
