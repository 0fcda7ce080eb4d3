"""Post-mortems and their action items: draft one from the incident's timeline, edit it by
hand, publish it; track the follow-ups (open, done, won't fix) and list the overdue ones.

Keyword-only functions taking the caller's ``session``, like
:mod:`buttress.incidents.service`: the caller owns the transaction. Every change is an
event on the incident's timeline with its actor (``postmortem_created``,
``postmortem_updated``, ``postmortem_published``, ``action_item_added``,
``action_item_updated``). A refused change raises :class:`~buttress.errors.ConflictError`
(API 409), bad input :class:`~buttress.errors.UsageError` (422), an unknown incident, post-mortem
or action item :class:`~buttress.errors.NotFoundError` (404).

Closing an incident whose severity is in ``incidents.postmortem_required`` needs its
post-mortem *published* (a draft is not enough: the point is that people wrote it):
:func:`require_for_close` is what :func:`buttress.incidents.service.act` calls.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Collection
from typing import Any, Literal, get_args

from sqlalchemy import select
from sqlalchemy.orm import Session

from buttress.errors import ConflictError, NotFoundError, UsageError
from buttress.incidents.postmortem_draft import PLACEHOLDER, draft, render_event
from buttress.incidents.tables import (
    Incident,
    IncidentActionItem,
    IncidentEvent,
    IncidentPostmortem,
)

__all__ = [
    "PLACEHOLDER",
    "UNSET",
    "ItemStatus",
    "action_items_of",
    "add_action_item",
    "create_postmortem",
    "default_required",
    "draft",
    "get_action_item",
    "get_postmortem",
    "list_action_items",
    "publish_postmortem",
    "render_event",
    "require_for_close",
    "update_action_item",
    "update_postmortem",
]

ItemStatus = Literal["open", "done", "wontfix"]
ITEM_STATUSES: tuple[str, ...] = get_args(ItemStatus)
MAX_BODY = 200_000
"""The longest post-mortem body taken, in characters."""


class _Unset(enum.Enum):
    UNSET = 0


UNSET = _Unset.UNSET
"""Leave this field as it is (``None`` clears a due date)."""


def _now(now: dt.datetime | None) -> dt.datetime:
    return now or dt.datetime.now(dt.UTC)


def _event(
    session: Session, incident_id: int, now: dt.datetime, kind: str, actor: str, **detail: Any
) -> None:
    session.add(
        IncidentEvent(incident_id=incident_id, at=now, kind=kind, actor=actor, detail=detail)
    )


def _incident(session: Session, ref: str) -> Incident:
    from buttress.incidents.service import get

    return get(session=session, ref=ref)


def default_required() -> list[str]:
    """The severities that need a published post-mortem when no configuration says."""
    from buttress.config._incidents import IncidentsConfig

    found = IncidentsConfig.model_fields["postmortem_required"].get_default(
        call_default_factory=True
    )
    return list(found)


def require_for_close(
    *, session: Session, incident: Incident, required: Collection[str] | None = None
) -> None:
    """ConflictError unless ``incident`` may be closed: its severity is not in ``required``
    (default: the configuration's default), or its post-mortem is published."""
    required = default_required() if required is None else required
    if incident.severity not in required:
        return
    found = session.get(IncidentPostmortem, incident.id)
    if found is not None and found.status == "published":
        return
    has = "it has none" if found is None else "its post-mortem is still a draft"
    raise ConflictError(
        f"{incident.ref}: a {incident.severity} incident needs a published post-mortem "
        f"before it is closed ({has}; incidents.postmortem_required): "
        f"buttress incident postmortem {incident.ref} --publish"
    )


def action_items_of(*, session: Session, incident: Incident) -> list[IncidentActionItem]:
    """The incident's action items, in the order they were added."""
    query = select(IncidentActionItem).where(IncidentActionItem.incident_id == incident.id)
    return list(session.scalars(query.order_by(IncidentActionItem.id)))


def _draft(session: Session, incident: Incident) -> str:
    from buttress.incidents.service import timeline

    return draft(
        incident,
        timeline(session=session, incident=incident),
        action_items_of(session=session, incident=incident),
    )


def _body(body: str) -> str:
    if not body.strip():
        raise UsageError("a post-mortem body cannot be empty")
    if len(body) > MAX_BODY:
        raise UsageError(
            f"a post-mortem body is at most {MAX_BODY:,} characters, not {len(body):,}"
        )
    return body


def get_postmortem(*, session: Session, ref: str) -> IncidentPostmortem:
    """The post-mortem of incident ``ref``; NotFoundError when the incident has none."""
    incident = _incident(session, ref)
    found = session.get(IncidentPostmortem, incident.id)
    if found is None:
        raise NotFoundError("post-mortem of incident", incident.ref)
    return found


def create_postmortem(
    *,
    session: Session,
    ref: str,
    actor: str,
    regenerate: bool = False,
    body: str | None = None,
    now: dt.datetime | None = None,
) -> IncidentPostmortem:
    """Draft the post-mortem of ``ref`` from its timeline and action items (or start it with
    ``body``). A second one is refused (ConflictError) unless ``regenerate``, which redrafts
    a draft from the timeline as it is now; a published post-mortem is never redrafted."""
    incident = _incident(session, ref)
    now = _now(now)
    text = _draft(session, incident) if body is None else _body(body)
    found = session.get(IncidentPostmortem, incident.id)
    if found is None:
        found = IncidentPostmortem(
            incident_id=incident.id,
            body=text,
            status="draft",
            created_at=now,
            created_by=actor,
            updated_at=now,
            updated_by=actor,
        )
        session.add(found)
        _event(session, incident.id, now, "postmortem_created", actor)
    elif found.status == "published":
        raise ConflictError(
            f"{incident.ref}: the post-mortem is published and is not redrafted; "
            "edit its body instead"
        )
    elif not regenerate:
        raise ConflictError(
            f"{incident.ref} already has a post-mortem draft; regenerate it to redraft it "
            "from the timeline (the edits to it are lost)"
        )
    else:
        found.body, found.updated_at, found.updated_by = text, now, actor
        _event(session, incident.id, now, "postmortem_updated", actor, how="regenerated")
    session.flush()
    return found


def update_postmortem(
    *, session: Session, ref: str, body: str, actor: str, now: dt.datetime | None = None
) -> IncidentPostmortem:
    """Replace the post-mortem's body (written by hand); a published one may be edited too,
    and the timeline says it was edited after publication."""
    found = get_postmortem(session=session, ref=ref)
    text = _body(body)
    if text == found.body:
        return found
    now = _now(now)
    found.body, found.updated_at, found.updated_by = text, now, actor
    _event(
        session,
        found.incident_id,
        now,
        "postmortem_updated",
        actor,
        how="edited after publication" if found.status == "published" else "edited",
        status=found.status,
        chars=len(text),
    )
    session.flush()
    return found


def publish_postmortem(
    *, session: Session, ref: str, actor: str, now: dt.datetime | None = None
) -> IncidentPostmortem:
    """Publish the post-mortem (once: publishing a published one changes nothing)."""
    found = get_postmortem(session=session, ref=ref)
    if found.status == "published":
        return found
    now = _now(now)
    found.status, found.updated_at, found.updated_by = "published", now, actor
    _event(session, found.incident_id, now, "postmortem_published", actor)
    session.flush()
    return found


def _title(title: str) -> str:
    title = " ".join(title.split())
    if not title:
        raise UsageError("an action item needs a title")
    if len(title) > 500:
        raise UsageError(f"an action item's title is at most 500 characters, not {len(title)}")
    return title


def _owner(owner: str) -> str:
    owner = owner.strip()
    if not owner:
        raise UsageError("an action item needs an owner")
    if len(owner) > 200:
        raise UsageError(f"an action item's owner is at most 200 characters, not {len(owner)}")
    return owner


def _item_status(status: str) -> str:
    if status not in ITEM_STATUSES:
        raise UsageError(
            f"an action item's status is one of {', '.join(ITEM_STATUSES)}, not {status!r}"
        )
    return status


def add_action_item(
    *,
    session: Session,
    ref: str,
    title: str,
    owner: str,
    actor: str,
    due: dt.date | None = None,
    now: dt.datetime | None = None,
) -> IncidentActionItem:
    """Track a follow-up of incident ``ref`` (status ``open``)."""
    incident = _incident(session, ref)
    now = _now(now)
    item = IncidentActionItem(
        incident_id=incident.id,
        title=_title(title),
        owner=_owner(owner),
        due=due,
        status="open",
        created_at=now,
        updated_at=now,
    )
    session.add(item)
    session.flush()
    _event(
        session,
        incident.id,
        now,
        "action_item_added",
        actor,
        id=item.id,
        title=item.title,
        owner=item.owner,
        due=due.isoformat() if due else None,
    )
    session.flush()
    return item


def get_action_item(*, session: Session, item_id: int) -> IncidentActionItem:
    """The action item ``item_id``; NotFoundError otherwise."""
    item = session.get(IncidentActionItem, item_id)
    if item is None:
        raise NotFoundError("action item", str(item_id))
    return item


def update_action_item(
    *,
    session: Session,
    item_id: int,
    actor: str,
    title: str | _Unset = UNSET,
    owner: str | _Unset = UNSET,
    due: dt.date | _Unset | None = UNSET,
    status: str | _Unset = UNSET,
    now: dt.datetime | None = None,
) -> IncidentActionItem:
    """Change an action item's title, owner, due date (``None`` clears it) or status; the
    timeline records each change as ``[old, new]``. Changing nothing records nothing."""
    item = get_action_item(session=session, item_id=item_id)
    wanted: dict[str, Any] = {}
    if not isinstance(title, _Unset):
        wanted["title"] = _title(title)
    if not isinstance(owner, _Unset):
        wanted["owner"] = _owner(owner)
    if not isinstance(due, _Unset):
        wanted["due"] = due
    if not isinstance(status, _Unset):
        wanted["status"] = _item_status(status)
    changes: dict[str, list[Any]] = {}
    for name, value in wanted.items():
        old = getattr(item, name)
        if old != value:
            shown = [v.isoformat() if isinstance(v, dt.date) else v for v in (old, value)]
            changes[name] = shown
            setattr(item, name, value)
    if not changes:
        return item
    now = _now(now)
    item.updated_at = now
    _event(
        session,
        item.incident_id,
        now,
        "action_item_updated",
        actor,
        id=item.id,
        title=item.title,
        changes=changes,
    )
    session.flush()
    return item


def list_action_items(
    *,
    session: Session,
    ref: str | None = None,
    status: str | None = None,
    overdue: bool = False,
    today: dt.date | None = None,
    limit: int = 500,
) -> list[tuple[IncidentActionItem, Incident]]:
    """Action items with their incident: of one incident (``ref``) or all, of one
    ``status``; ``overdue`` keeps the open ones due before ``today`` (default: today in UTC),
    soonest due first. Otherwise in the order they were added."""
    query = select(IncidentActionItem, Incident).join(
        Incident, Incident.id == IncidentActionItem.incident_id
    )
    if ref is not None:
        query = query.where(IncidentActionItem.incident_id == _incident(session, ref).id)
    if status is not None:
        query = query.where(IncidentActionItem.status == _item_status(status))
    if overdue:
        today = today or dt.datetime.now(dt.UTC).date()
        query = query.where(
            IncidentActionItem.status == "open",
            IncidentActionItem.due.is_not(None),
            IncidentActionItem.due < today,
        ).order_by(IncidentActionItem.due, IncidentActionItem.id)
    else:
        query = query.order_by(IncidentActionItem.id)
    return [(item, incident) for item, incident in session.execute(query.limit(limit))]
