"""The audit log: one record per mutating action, written by the API and the CLI alike."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from buttress.catalog.tables import AuditRecord, utcnow

__all__ = ["Outcome", "get_all", "record"]

Outcome = Literal["success", "denied", "failed"]


def record(
    *,
    session: Session,
    actor: str,
    action: str,
    outcome: Outcome,
    target: str = "",
    client: str = "",
    status: int | None = None,
    request_id: str = "",
    detail: dict[str, Any] | None = None,
    at: dt.datetime | None = None,
) -> AuditRecord:
    """Append one audit record (in the caller's transaction)."""
    row = AuditRecord(
        at=at or utcnow(),
        actor=actor[:200],
        action=action[:200],
        target=target[:500],
        client=client[:100],
        outcome=outcome,
        status=status,
        request_id=request_id[:64],
        detail=detail or {},
    )
    session.add(row)
    session.flush()
    return row


def get_all(
    *,
    session: Session,
    limit: int = 100,
    before_id: int | None = None,
    actor: str | None = None,
    action: str | None = None,
) -> list[AuditRecord]:
    """Audit records, newest first; page with ``before_id`` (the last id of the previous page)."""
    query = select(AuditRecord).order_by(AuditRecord.id.desc()).limit(limit)
    if before_id is not None:
        query = query.where(AuditRecord.id < before_id)
    if actor:
        query = query.where(AuditRecord.actor == actor)
    if action:
        query = query.where(AuditRecord.action == action)
    return list(session.scalars(query))
