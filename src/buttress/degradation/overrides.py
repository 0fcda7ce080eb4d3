"""Manual degradation overrides in the catalog: set by `buttress level set`, the API or the
dashboard, read by every `buttress serve` on the same catalog at each evaluation."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from buttress.catalog.tables import utcnow
from buttress.degradation.tables import LevelOverride

__all__ = ["OverrideRecord", "active", "clear", "create", "recent"]


@dataclass(frozen=True)
class OverrideRecord:
    id: int
    level: str
    reason: str
    actor: str
    created_at: dt.datetime
    expires_at: dt.datetime
    cleared_at: dt.datetime | None
    cleared_by: str

    @classmethod
    def of(cls, row: LevelOverride) -> OverrideRecord:
        return cls(
            row.id, row.level, row.reason, row.actor, row.created_at, row.expires_at,
            row.cleared_at, row.cleared_by,
        )  # fmt: skip

    def as_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "level": self.level,
            "reason": self.reason,
            "actor": self.actor,
            "created_at": self.created_at.isoformat(),
            "expires_at": self.expires_at.isoformat(),
            "cleared_at": self.cleared_at.isoformat() if self.cleared_at else None,
            "cleared_by": self.cleared_by,
        }


def active(*, session: Session, now: dt.datetime | None = None) -> OverrideRecord | None:
    """The override in force (the newest not cleared and not expired), if any."""
    now = now or utcnow()
    row = session.scalars(
        select(LevelOverride)
        .where(LevelOverride.cleared_at.is_(None), LevelOverride.expires_at > now)
        .order_by(LevelOverride.created_at.desc(), LevelOverride.id.desc())
        .limit(1)
    ).first()
    return OverrideRecord.of(row) if row else None


def create(
    *, session: Session, level: str, reason: str, seconds: float, actor: str
) -> OverrideRecord:
    """Record a new override (the caller checks that ``level`` exists)."""
    if seconds <= 0:
        raise ValueError("an override needs a positive duration")
    if not reason.strip():
        raise ValueError("an override needs a reason")
    now = utcnow()
    row = LevelOverride(
        level=level,
        reason=reason.strip()[:1000],
        actor=actor,
        created_at=now,
        expires_at=now + dt.timedelta(seconds=seconds),
        cleared_at=None,
        cleared_by="",
    )
    session.add(row)
    session.flush()
    return OverrideRecord.of(row)


def clear(*, session: Session, actor: str) -> list[OverrideRecord]:
    """End every override in force; returns them."""
    now = utcnow()
    rows = session.scalars(
        select(LevelOverride).where(
            LevelOverride.cleared_at.is_(None), LevelOverride.expires_at > now
        )
    ).all()
    for row in rows:
        row.cleared_at = now
        row.cleared_by = actor
    return [OverrideRecord.of(r) for r in rows]


def recent(*, session: Session, limit: int = 20) -> list[OverrideRecord]:
    rows = session.scalars(
        select(LevelOverride).order_by(LevelOverride.id.desc()).limit(limit)
    ).all()
    return [OverrideRecord.of(r) for r in rows]
