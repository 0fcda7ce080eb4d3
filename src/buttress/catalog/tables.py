"""The catalog's one SQLAlchemy metadata (:class:`Base`), its column types, and the tables
owned by the foundation: API tokens, the audit log and claims.

Each domain declares its own tables on :class:`Base` in its ``tables.py`` (``backup_runs`` in
:mod:`buttress.backup.tables`, ``level_overrides`` in :mod:`buttress.degradation.tables`) and
names that module in its component; :func:`buttress.components.metadata` imports them all.
Migrations stay one linear Alembic history in ``catalog/migrations/versions``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, DateTime, Float, Integer, String, TypeDecorator
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from buttress.errors import CatalogError

__all__ = [
    "ApiToken",
    "AuditRecord",
    "Base",
    "Claim",
    "UTCDateTime",
    "utcnow",
]


def utcnow() -> dt.datetime:
    """The current time, timezone-aware, in UTC."""
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timestamp stored in UTC and always read back timezone-aware (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored in the catalog; pass a UTC-aware one")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if not isinstance(value, dt.datetime):
            raise CatalogError(f"the catalog answered {type(value).__name__} for a timestamp")
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    """Declarative base of every catalog table."""


class ApiToken(Base):
    """An API token: only its SHA-256 is stored; the token itself is shown once at creation."""

    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(200))
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class AuditRecord(Base):
    """One mutating action: who did what, when, from where, and how it ended."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), index=True)
    actor: Mapped[str] = mapped_column(String(200), index=True)
    action: Mapped[str] = mapped_column(String(200), index=True)
    target: Mapped[str] = mapped_column(String(500), default="")
    client: Mapped[str] = mapped_column(String(100), default="")
    outcome: Mapped[str] = mapped_column(String(16))
    status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    request_id: Mapped[str] = mapped_column(String(64), default="")
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Claim(Base):
    """Something held by one holder at a time (``key``, e.g. ``backup:site``), with a lease the
    holder renews; see :mod:`buttress.catalog.claims`."""

    __tablename__ = "claims"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    holder: Mapped[str] = mapped_column(String(100), index=True)
    host: Mapped[str] = mapped_column(String(200))  # for display
    machine: Mapped[str] = mapped_column(String(200))  # boot id + PID namespace: where pid counts
    pid: Mapped[int] = mapped_column(Integer)
    # the process's start mark: clock ticks since boot on Linux (claims._start_mark), else
    # epoch seconds
    pid_started: Mapped[float] = mapped_column(Float)
    claimed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    heartbeat_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
