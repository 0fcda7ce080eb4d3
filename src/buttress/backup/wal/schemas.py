"""What ``GET /api/v1/backups/targets/{target}/wal`` and ``buttress wal status --json`` answer
(pydantic only): a physical target's archived WAL, its gaps and the recoverable window."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, Field

__all__ = [
    "BaseBackupWalRead",
    "WalGapRead",
    "WalSegmentRead",
    "WalSpanRead",
    "WalStatusRead",
    "WalWindowRead",
]


class WalSegmentRead(BaseModel):
    """An archived WAL segment."""

    name: str
    ready_at: dt.datetime | None = Field(description="When PostgreSQL handed it over.")
    archived_at: dt.datetime | None = Field(description="When it was stored.")


class WalGapRead(BaseModel):
    """Segments missing from the archive: ``count`` of them, ``first`` to ``last``."""

    first: str
    last: str
    count: int


class WalSpanRead(BaseModel):
    """Every point from ``start`` to ``end`` can be restored to (from one of ``backups``)."""

    start: dt.datetime
    end: dt.datetime
    backups: list[str]


class WalWindowRead(BaseModel):
    """The recoverable window: from ``oldest`` to ``newest``, in ``spans`` (a WAL gap lies
    between two spans: nothing there is recoverable). ``newest`` is when PostgreSQL handed
    over the newest segment archived without a break: it bounds the newest commit it holds."""

    oldest: dt.datetime | None
    newest: dt.datetime | None
    seconds: float
    spans: list[WalSpanRead]


class BaseBackupWalRead(BaseModel):
    """One good base backup's WAL."""

    id: str
    stop_time: dt.datetime
    timelines: list[int] = Field(description="The timelines recovery from it goes through.")
    whole: bool = Field(description="Every segment from its start_wal to its stop_wal is there.")
    contiguous_to: str | None = Field(description="The last segment reached without a break.")
    first_gap: WalGapRead | None
    missing: int = Field(description="Segments missing after it, up to the newest archived.")


class WalStatusRead(BaseModel):
    """A physical target's WAL archive as the catalog indexes it."""

    target: str
    mode: str = Field(description="sync or async (wal.mode).")
    segments: int = Field(description="Archived segments.")
    history_files: int
    oldest: WalSegmentRead | None = Field(description="The oldest archived segment.")
    newest: WalSegmentRead | None = Field(description="The newest archived segment.")
    last_archived_at: dt.datetime | None
    lag_seconds: float | None = Field(
        description="Now minus ready_at of the newest archived segment (grows while the server "
        "is idle: PostgreSQL switches segments only after writes)."
    )
    pending: int | None = Field(
        description="Segments spooled but not uploaded (async mode, where the spool is on "
        "this host); None when unknown."
    )
    window: WalWindowRead
    gaps: list[WalGapRead] = Field(description="After the oldest good base backup.")
    missing: int = Field(description="Segments missing after the oldest good base backup.")
    backups: list[BaseBackupWalRead] = Field(description="Good base backups, oldest first.")
    problems: list[str] = Field(description="What could not be read (a run's facts, a history).")
    state: Literal["ok", "gaps", "no_backup", "empty"] = Field(
        description="empty: nothing archived; no_backup: no good base backup whose own WAL is "
        "whole; gaps: WAL missing after the oldest good base backup; else ok."
    )
