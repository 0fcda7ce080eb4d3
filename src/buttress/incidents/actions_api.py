"""``/api/v1/incidents/{ref}/actions``: the automated actions run for an incident (viewer),
and what a rule would do for it now (operator; changes nothing)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from buttress.errors import NotFoundError
from buttress.incidents import service
from buttress.incidents.actions import Actions, runs_of
from buttress.incidents.tables import IncidentActionRun
from buttress.platform.auth import Operator, Viewer
from buttress.platform.http import CatalogDep

__all__ = ["ActionPreview", "ActionRunRead", "router"]

router = APIRouter(prefix="/api/v1/incidents", tags=["incidents"])


Scalar = str | int | float | bool | None


class ActionRunRead(BaseModel):
    """One run of an action rule for the incident."""

    rule: str
    status: str = Field(description="The incident's status the rule ran for.")
    at: dt.datetime
    outcome: Literal["ok", "failed", "dry_run", "throttled", "running"] = Field(
        description="running: still acting (or its process died mid-action)."
    )
    dry_run: bool
    what: str = Field(description="What it did (or would do, or why it did nothing).")
    error: str | None = Field(description="Why it failed (no secret in it).")
    result: dict[str, Scalar] = Field(
        description="What the action made: backup_id, override, status (HTTP), attempts..."
    )

    @classmethod
    def of(cls, row: IncidentActionRun) -> ActionRunRead:
        detail = dict(row.detail or {})
        what, error = str(detail.pop("what", "")), detail.pop("error", None)
        return cls(
            rule=row.rule,
            status=row.status,
            at=row.at,
            outcome=row.outcome,
            dry_run=row.dry_run,
            what=what,
            error=None if error is None else str(error),
            result={k: v for k, v in detail.items() if isinstance(v, Scalar)},
        )


class ActionPreview(BaseModel):
    """What a rule would do for the incident now (nothing was done)."""

    rule: str
    type: str
    what: str = Field(description="What it would do.")
    decision: Literal["run", "dry_run", "throttled", "done", "no_match"] = Field(
        description="What a run now would decide: run, dry_run (the rule is a dry run), "
        "throttled (max_runs reached within per), done (it already ran for this status), "
        "no_match (the rule does not take this incident now)."
    )
    status: str = Field(description="The incident's status now.")


def _actions(request: Request) -> Actions:
    found = getattr(request.app.state, "incident_actions", None)
    if not isinstance(found, Actions):
        raise NotFoundError("incident actions", "(the incidents component is not running)")
    return found


@router.get("/{ref}/actions", summary="The automated actions run for an incident")
def actions_of(ref: str, catalog: CatalogDep, _who: Viewer) -> list[ActionRunRead]:
    with catalog.begin() as session:
        incident = service.get(session=session, ref=ref)
        return [ActionRunRead.of(r) for r in runs_of(session=session, incident=incident)]


@router.post(
    "/{ref}/actions/{rule}/dry-run",
    summary="What an action rule would do for an incident now (changes nothing)",
)
def dry_run(
    request: Request, ref: str, rule: str, catalog: CatalogDep, _who: Operator
) -> ActionPreview:
    actions = _actions(request)
    with catalog.begin() as session:
        incident = service.get(session=session, ref=ref)
        result = actions.preview(session=session, incident=incident, rule=rule)
    return ActionPreview(
        rule=result.rule,
        type=result.type,
        what=result.what,
        decision=result.detail["decision"],
        status=result.detail["status"],
    )
