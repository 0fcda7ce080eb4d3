"""The audit log: one record per mutating action, written by the API and the CLI alike."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from sqlalchemy import BigInteger, literal, select
from sqlalchemy.orm import Session

from buttress.catalog.tables import AuditRecord, utcnow
from buttress.secrets import redact_tokens

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
    """Append one audit record (in the caller's transaction); token-shaped strings in any field
    are masked, wherever they came from (a request id, a path, a payload)."""
    row = AuditRecord(
        at=at or utcnow(),
        actor=redact_tokens(actor)[:200],
        action=redact_tokens(action)[:200],
        target=redact_tokens(target)[:500],
        client=redact_tokens(client)[:100],
        outcome=outcome,
        status=status,
        request_id=redact_tokens(request_id)[:64],
        detail=_clean(detail or {}),
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
        # bound as BIGINT: on PostgreSQL the id column is 32-bit, and a larger page bound
        # (valid, it simply matches every record) must not overflow the column's type
        query = query.where(AuditRecord.id < literal(before_id, BigInteger()))
    if actor:
        query = query.where(AuditRecord.actor == actor)
    if action:
        query = query.where(AuditRecord.action == action)
    return list(session.scalars(query))


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return redact_tokens(value)
    if isinstance(value, dict):
        return {redact_tokens(str(k)): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value
