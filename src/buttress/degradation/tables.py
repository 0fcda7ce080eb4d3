"""The degradation domain's catalog table: manual level overrides."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from buttress.catalog.tables import Base, UTCDateTime

__all__ = ["LevelOverride"]


class LevelOverride(Base):
    """A manual degradation level, in force from ``created_at`` until ``expires_at`` or until
    it is cleared; the newest one in force wins."""

    __tablename__ = "level_overrides"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    level: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(String(1000))
    actor: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), index=True)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    cleared_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    cleared_by: Mapped[str] = mapped_column(String(200), default="")
