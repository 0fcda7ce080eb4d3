"""Public updates and the public facts of incidents, for the status page.

A public update is a timeline event of kind ``public_update`` (detail ``{status, text}``): what
the people affected are told (``investigating``, ``identified``, ``monitoring``,
``resolved``). :func:`public_incidents` reads what the status page shows in two bounded
queries, and only the columns it may show (labels, roles, notes, actors and alerts are never
read): the open incidents and those resolved within ``history_days``, with each one's latest
public updates.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from buttress.errors import UsageError
from buttress.incidents.service import get
from buttress.incidents.status_page import (
    OPEN,
    PUBLIC_STATUSES,
    IncidentFacts,
    PublicStatus,
    UpdateFacts,
)
from buttress.incidents.tables import Incident, IncidentEvent

__all__ = [
    "KIND",
    "MAX_OPEN",
    "MAX_PAST",
    "MAX_UPDATES",
    "public_incidents",
    "public_update",
]

KIND = "public_update"
MAX_OPEN = 50
"""Open incidents listed at most."""
MAX_PAST = 50
"""Past incidents listed at most."""
MAX_UPDATES = 20
"""Public updates listed per incident at most (the latest)."""
MAX_TEXT = 10_000


def public_update(
    *,
    session: Session,
    ref: str,
    status: str,
    text: str,
    actor: str,
    now: dt.datetime | None = None,
) -> Incident:
    """Post a public update on the incident (shown on the status page); UsageError for an
    unknown status or an empty text, NotFoundError for an unknown incident."""
    if status not in PUBLIC_STATUSES:
        raise UsageError(f"status must be one of {', '.join(PUBLIC_STATUSES)}, not {status!r}")
    if not text.strip():
        raise UsageError("a public update needs some text")
    if len(text) > MAX_TEXT:
        raise UsageError(f"a public update is at most {MAX_TEXT} characters")
    incident = get(session=session, ref=ref)
    session.add(
        IncidentEvent(
            incident_id=incident.id,
            at=now or dt.datetime.now(dt.UTC),
            kind=KIND,
            actor=actor,
            detail={"status": status, "text": text.strip()},
        )
    )
    session.flush()
    return incident


def _update(detail: Any, at: dt.datetime) -> UpdateFacts | None:
    if not isinstance(detail, dict):
        return None
    status, text = detail.get("status"), detail.get("text")
    if status not in PUBLIC_STATUSES or not isinstance(text, str):
        return None
    known: PublicStatus = status
    return UpdateFacts(at=at, status=known, text=text)


def public_incidents(
    *,
    session: Session,
    now: dt.datetime,
    history_days: int,
    open_limit: int = MAX_OPEN,
    past_limit: int = MAX_PAST,
    updates_limit: int = MAX_UPDATES,
) -> list[IncidentFacts]:
    """The open incidents (at most ``open_limit``) then those resolved or closed within
    ``history_days`` of ``now`` (at most ``past_limit``), each newest first, with their latest
    ``updates_limit`` public updates (newest first)."""
    cutoff = now - dt.timedelta(days=history_days)
    is_open = Incident.status.in_(OPEN)
    rows = session.execute(
        select(
            Incident.id,
            Incident.year,
            Incident.seq,
            Incident.title,
            Incident.severity,
            Incident.status,
            Incident.services,
            Incident.triggered_at,
            Incident.resolved_at,
        )
        .where(
            or_(
                is_open,
                and_(Incident.status.in_(("resolved", "closed")), Incident.resolved_at >= cutoff),
            )
        )
        .order_by(case((is_open, 0), else_=1), Incident.id.desc())
        .limit(open_limit + past_limit)
    ).all()
    opened = [r for r in rows if r.status in OPEN][:open_limit]
    past = [r for r in rows if r.status not in OPEN][:past_limit]
    chosen = opened + past
    updates: dict[int, list[UpdateFacts]] = {r.id: [] for r in chosen}
    if chosen:
        rank = (
            func.row_number()
            .over(partition_by=IncidentEvent.incident_id, order_by=IncidentEvent.id.desc())
            .label("rank")
        )
        latest = (
            select(
                IncidentEvent.id,
                IncidentEvent.incident_id,
                IncidentEvent.at,
                IncidentEvent.detail,
                rank,
            )
            .where(IncidentEvent.kind == KIND, IncidentEvent.incident_id.in_(list(updates)))
            .subquery()
        )
        for event in session.execute(
            select(latest.c.incident_id, latest.c.at, latest.c.detail)
            .where(latest.c.rank <= updates_limit)
            .order_by(latest.c.incident_id, latest.c.id.desc())
        ):
            found = _update(event.detail, event.at)
            if found is not None:
                updates[event.incident_id].append(found)
    return [
        IncidentFacts(
            ref=f"INC-{r.year}-{r.seq:04d}",
            title=r.title,
            severity=r.severity,
            status=r.status,
            services=tuple(r.services or ()),
            triggered_at=r.triggered_at,
            resolved_at=r.resolved_at,
            updates=tuple(updates[r.id]),
        )
        for r in chosen
    ]
