"""``/api/v1/incidents/.../postmortem`` and ``.../action-items``: post-mortems read (viewer),
drafted, edited and published (operator); action items tracked and listed.

This router is mounted before the incidents router, so that
``/api/v1/incidents/action-items`` is not taken for an incident id. Refusals (a second draft,
redrafting a published post-mortem) answer 409, an unknown incident or item 404, a bad date
or status 422.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import PlainTextResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from buttress.incidents import postmortem
from buttress.incidents.tables import Incident, IncidentActionItem, IncidentPostmortem
from buttress.platform.auth import Operator, Viewer
from buttress.platform.http import CatalogDep

__all__ = [
    "ActionItemCreate",
    "ActionItemPage",
    "ActionItemRead",
    "ActionItemUpdate",
    "PostmortemBody",
    "PostmortemRead",
    "router",
]

router = APIRouter(prefix="/api/v1/incidents", tags=["incidents"])
ItemStatus = Literal["open", "done", "wontfix"]
MARKDOWN = "text/markdown"


class PostmortemRead(BaseModel):
    """An incident's post-mortem."""

    incident: str = Field(description="The incident's id, INC-<year>-<number>.")
    status: Literal["draft", "published"]
    body: str = Field(description="The post-mortem in Markdown.")
    created_at: dt.datetime
    created_by: str
    updated_at: dt.datetime
    updated_by: str


class PostmortemBody(BaseModel):
    """A post-mortem's new body, written by hand."""

    model_config = ConfigDict(extra="forbid")

    body: str = Field(min_length=1, max_length=postmortem.MAX_BODY)


class ActionItemRead(BaseModel):
    """One action item of an incident."""

    id: int
    incident: str = Field(description="The incident's id, INC-<year>-<number>.")
    title: str
    owner: str
    due: dt.date | None
    status: ItemStatus
    overdue: bool = Field(description="Open and due before today (UTC).")
    created_at: dt.datetime
    updated_at: dt.datetime


class ActionItemPage(BaseModel):
    """Action items, in the order they were added (overdue ones: soonest due first)."""

    items: list[ActionItemRead]


class ActionItemCreate(BaseModel):
    """A follow-up to track."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=500)
    owner: str = Field(min_length=1, max_length=200)
    due: dt.date | None = Field(default=None, description="YYYY-MM-DD.")


class ActionItemUpdate(BaseModel):
    """The fields to change (absent: unchanged; ``due: null`` clears the due date)."""

    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(default=None, min_length=1, max_length=500)
    owner: str | None = Field(default=None, min_length=1, max_length=200)
    due: dt.date | None = Field(default=None, description="YYYY-MM-DD, or null to clear.")
    status: ItemStatus | None = None


def _read(found: IncidentPostmortem, incident: Incident) -> PostmortemRead:
    return PostmortemRead(
        incident=incident.ref,
        status=found.status,
        body=found.body,
        created_at=found.created_at,
        created_by=found.created_by,
        updated_at=found.updated_at,
        updated_by=found.updated_by,
    )


def item_read(item: IncidentActionItem, incident: Incident, today: dt.date) -> ActionItemRead:
    """The API's view of one action item (``today`` decides ``overdue``)."""
    return ActionItemRead(
        id=item.id,
        incident=incident.ref,
        title=item.title,
        owner=item.owner,
        due=item.due,
        status=item.status,
        overdue=item.status == "open" and item.due is not None and item.due < today,
        created_at=item.created_at,
        updated_at=item.updated_at,
    )


def _today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


@router.get("/action-items", summary="Action items of every incident, with filters")
def list_action_items(
    catalog: CatalogDep,
    _who: Viewer,
    status: ItemStatus | None = None,
    overdue: Annotated[bool, Query(description="Only open items due before today.")] = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 500,
) -> ActionItemPage:
    today = _today()
    with catalog.begin() as session:
        rows = postmortem.list_action_items(
            session=session, status=status, overdue=overdue, today=today, limit=limit
        )
        return ActionItemPage(items=[item_read(i, inc, today) for i, inc in rows])


@router.patch("/action-items/{item_id}", summary="Change an action item")
def update_action_item(
    request: Request, item_id: int, body: ActionItemUpdate, catalog: CatalogDep, who: Operator
) -> ActionItemRead:
    given = body.model_fields_set
    with catalog.begin() as session:
        item = postmortem.update_action_item(
            session=session,
            item_id=item_id,
            actor=who.name,
            title=body.title if body.title is not None else postmortem.UNSET,
            owner=body.owner if body.owner is not None else postmortem.UNSET,
            due=body.due if "due" in given else postmortem.UNSET,
            status=body.status if body.status is not None else postmortem.UNSET,
        )
        incident = session.get_one(Incident, item.incident_id)
        read = item_read(item, incident, _today())
    request.state.audit_target = f"{read.incident}#{read.id}"
    return read


@router.get("/{ref}/postmortem", summary="An incident's post-mortem")
def get_postmortem(ref: str, catalog: CatalogDep, _who: Viewer) -> PostmortemRead:
    with catalog.begin() as session:
        found = postmortem.get_postmortem(session=session, ref=ref)
        return _read(found, session.get_one(Incident, found.incident_id))


@router.get(
    "/{ref}/postmortem.md",
    summary="An incident's post-mortem as Markdown",
    response_class=Response,
    responses={
        200: {
            "description": "The post-mortem",
            "content": {MARKDOWN: {"schema": {"type": "string"}}},
        }
    },
)
def get_postmortem_markdown(ref: str, catalog: CatalogDep, _who: Viewer) -> PlainTextResponse:
    with catalog.begin() as session:
        found = postmortem.get_postmortem(session=session, ref=ref)
        body = found.body
    return PlainTextResponse(body, media_type=f"{MARKDOWN}; charset=utf-8")


@router.post(
    "/{ref}/postmortem",
    summary="Draft an incident's post-mortem from its timeline",
    status_code=201,
)
def create_postmortem(
    request: Request,
    ref: str,
    catalog: CatalogDep,
    who: Operator,
    regenerate: Annotated[
        bool, Query(description="Redraft an existing draft (its edits are lost).")
    ] = False,
) -> PostmortemRead:
    with catalog.begin() as session:
        found = postmortem.create_postmortem(
            session=session, ref=ref, actor=who.name, regenerate=regenerate
        )
        read = _read(found, session.get_one(Incident, found.incident_id))
    request.state.audit_target = read.incident
    return read


@router.put("/{ref}/postmortem", summary="Replace an incident's post-mortem body")
def update_postmortem(
    request: Request, ref: str, body: PostmortemBody, catalog: CatalogDep, who: Operator
) -> PostmortemRead:
    with catalog.begin() as session:
        found = postmortem.update_postmortem(
            session=session, ref=ref, body=body.body, actor=who.name
        )
        read = _read(found, session.get_one(Incident, found.incident_id))
    request.state.audit_target = read.incident
    return read


@router.post("/{ref}/postmortem/publish", summary="Publish an incident's post-mortem")
def publish_postmortem(
    request: Request, ref: str, catalog: CatalogDep, who: Operator
) -> PostmortemRead:
    with catalog.begin() as session:
        found = postmortem.publish_postmortem(session=session, ref=ref, actor=who.name)
        read = _read(found, session.get_one(Incident, found.incident_id))
    request.state.audit_target = read.incident
    return read


@router.get("/{ref}/action-items", summary="An incident's action items")
def incident_action_items(ref: str, catalog: CatalogDep, _who: Viewer) -> ActionItemPage:
    today = _today()
    with catalog.begin() as session:
        rows = postmortem.list_action_items(session=session, ref=ref, today=today)
        return ActionItemPage(items=[item_read(i, inc, today) for i, inc in rows])


@router.post("/{ref}/action-items", summary="Track an action item of an incident", status_code=201)
def add_action_item(
    request: Request, ref: str, body: ActionItemCreate, catalog: CatalogDep, who: Operator
) -> ActionItemRead:
    with catalog.begin() as session:
        item = postmortem.add_action_item(
            session=session,
            ref=ref,
            title=body.title,
            owner=body.owner,
            due=body.due,
            actor=who.name,
        )
        read = item_read(item, session.get_one(Incident, item.incident_id), _today())
    request.state.audit_target = f"{read.incident}#{read.id}"
    return read
