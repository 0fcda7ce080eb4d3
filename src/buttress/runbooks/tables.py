"""The runbooks domain's catalog tables: ``runbook_runs`` (one row per run: what ran, with
which parameters, by whom, how it ended) and ``runbook_steps`` (one row per step of a run, by
path; a confirm step's prompt and answer are columns of its row).

A run that resumes or rolls back another is a new row naming it in ``resumed_from`` (``mode``
``resume`` or ``rollback``): the record of the first run stays as it ended (``interrupted``,
``failed``), and each run has its own actor, claim and audit record. A resumed run starts with
copies of the steps that had succeeded (their values feed later steps' templates).

A step waits for a person while its ``prompt`` is set and ``approved`` is NULL; whoever sets
``approved`` first (a person through the CLI, API or dashboard, or the timeout's default) wins:
the update is conditional on ``approved IS NULL``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from buttress.catalog.tables import Base, UTCDateTime

__all__ = ["RunbookRun", "RunbookStep"]


class RunbookRun(Base):
    """One run of a runbook (or its dry run, its resumption, its rollback)."""

    __tablename__ = "runbook_runs"
    __table_args__ = (Index("ix_runbook_runs_runbook_id", "runbook", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    runbook: Mapped[str] = mapped_column(String(200))
    mode: Mapped[str] = mapped_column(String(16))  # run / resume / rollback
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False)
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # secrets masked
    actor: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    resumed_from: Mapped[int | None] = mapped_column(
        ForeignKey("runbook_runs.id", ondelete="SET NULL"), nullable=True
    )


class RunbookStep(Base):
    """One step of one run, by path (``"1"``, ``"1.rollback.0"``, ``"rollback.0"``)."""

    __tablename__ = "runbook_steps"
    __table_args__ = (UniqueConstraint("run_id", "path", name="uq_runbook_steps_run_path"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runbook_runs.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)  # the order steps started in
    path: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    output: Mapped[str] = mapped_column(Text, default="")  # secrets masked, bounded
    values: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    carried: Mapped[bool] = mapped_column(Boolean, default=False)  # copied from resumed_from
    prompt: Mapped[str | None] = mapped_column(Text, nullable=True)  # a confirm step's question
    confirm_deadline: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    approved: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    confirmed_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    confirmed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    comment: Mapped[str] = mapped_column(Text, default="")
    defaulted: Mapped[bool] = mapped_column(Boolean, default=False)
