"""``/api/v1/runbooks``: the configured runbooks (viewer), their runs (viewer), and starting,
confirming, resuming and rolling back runs (the runbook's own role).

A run started here runs in a thread of this server and is answered at once (202, its id);
``GET /runs/{id}`` follows it live. A run of an ``exclusive`` runbook while another runs is
409 naming that run; an unknown runbook or run is 404; bad parameters 422.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from buttress.catalog.tokens import Principal, Role
from buttress.platform.auth import Viewer
from buttress.platform.http import ApiError, CatalogDep, errors
from buttress.platform.schemas import JsonObject
from buttress.runbooks.runs import Runbooks, RunView, engine_factory

__all__ = [
    "RunbookConfirm",
    "RunbookParamRead",
    "RunbookRead",
    "RunbookRunDetail",
    "RunbookRunRead",
    "RunbookRunStart",
    "RunbookRunStarted",
    "RunbookStepRead",
    "describe",
    "router",
    "run_detail",
]

router = APIRouter(prefix="/api/v1/runbooks", tags=["runbooks"])
RunStatus = Literal["running", "succeeded", "failed", "rolled_back", "interrupted"]
Name = Annotated[str, Path(min_length=1, max_length=200)]
RunNumber = Annotated[int, Path(ge=1, le=2**31 - 1)]


class RunbookParamRead(BaseModel):
    """One parameter a runbook takes."""

    name: str
    type: str
    default: str | int | float | bool | None = Field(
        default=None, description="None: the parameter must be given (or a secret's default)."
    )
    description: str = ""
    choices: list[str] = Field(default_factory=list, description="A choice's allowed values.")


class RunbookStepDeclared(BaseModel):
    """One step of a runbook, as declared."""

    name: str
    kind: str
    rollback: list[RunbookStepDeclared] = Field(
        default_factory=list, description="The steps that undo it, run when a later one fails."
    )


class RunbookRead(BaseModel):
    """A runbook: who may run it, what it takes, what it does."""

    name: str
    description: str
    role: str = Field(description="The role a caller needs to run it and answer its steps.")
    exclusive: bool = Field(description="One run at a time, across replicas.")
    params: list[RunbookParamRead]
    steps: list[RunbookStepDeclared]
    rollback: list[RunbookStepDeclared]


class RunbookRunRead(BaseModel):
    """One run of a runbook."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    runbook: str
    mode: Literal["run", "resume", "rollback"]
    dry_run: bool
    params: JsonObject = Field(description="The parameters, secrets masked.")
    actor: str
    status: RunStatus
    started_at: dt.datetime
    finished_at: dt.datetime | None
    error: str | None
    resumed_from: int | None = Field(description="The run this one resumes or rolls back.")


class RunbookStepRead(BaseModel):
    """One step of a run."""

    model_config = ConfigDict(from_attributes=True)

    path: str
    name: str
    kind: str
    status: str
    started_at: dt.datetime
    finished_at: dt.datetime | None
    attempts: int
    output: str
    values: JsonObject
    error: str | None
    carried: bool = Field(description="Done by the run this one resumes.")
    prompt: str | None
    waiting: bool = Field(description="A confirm step waiting for an answer now.")
    confirm_deadline: dt.datetime | None
    approved: bool | None
    confirmed_by: str | None
    confirmed_at: dt.datetime | None
    comment: str
    defaulted: bool = Field(description="Nobody answered in time: the default applied.")


class RunbookRunDetail(RunbookRunRead):
    """A run with its steps, in the order they started."""

    steps: list[RunbookStepRead]


ParamValue = Annotated[str, Field(max_length=10_000)] | bool | int | float
"""A parameter's value: text as on the command line (``--param k=v``), or a JSON boolean or
number (what ``GET /runbooks`` shows as defaults); checked against the declared type."""


def param_texts(given: Mapping[str, str | bool | int | float]) -> dict[str, str]:
    """The parameters as the command line gives them (true/false, numbers as written)."""
    return {
        k: ("true" if v else "false") if isinstance(v, bool) else str(v) for k, v in given.items()
    }


class RunbookRunStart(BaseModel):
    """Start a run: the parameters as text (as on the command line) or JSON scalars."""

    model_config = ConfigDict(extra="forbid")

    params: dict[Annotated[str, Field(max_length=200)], ParamValue] = Field(default_factory=dict)
    dry_run: bool = False


class RunbookRunFollow(BaseModel):
    """Resume or roll back a run: secret parameters again (they are not stored)."""

    model_config = ConfigDict(extra="forbid")

    params: dict[Annotated[str, Field(max_length=200)], ParamValue] = Field(default_factory=dict)


class RunbookRunStarted(BaseModel):
    """A run started in the server; follow it at ``url``."""

    id: int
    url: str


class RunbookConfirm(BaseModel):
    """An answer to a run's waiting confirm step."""

    model_config = ConfigDict(extra="forbid")

    step: str | None = Field(
        default=None, max_length=200, description="Its path or name (None: the one waiting)."
    )
    approved: bool
    comment: str = Field(default="", max_length=10_000)


def _text(value: Any) -> str:
    return str(getattr(value, "value", value))


def _step_read(step: Any, index: int) -> RunbookStepDeclared:
    return RunbookStepDeclared(
        name=str(getattr(step, "name", None) or index),
        kind=_text(getattr(step, "kind", None) or getattr(step, "type", "")),
        rollback=[_step_read(s, i) for i, s in enumerate(getattr(step, "rollback", ()) or ())],
    )


def _default(spec: Any) -> str | int | float | bool | None:
    value = getattr(spec, "default", None)
    if getattr(spec, "secret", False) or value is None:
        return None
    return value if isinstance(value, str | int | float | bool) else str(value)


def describe(runbook: Any) -> RunbookRead:
    """A runbook of the configuration, as the API shows it."""
    params = getattr(runbook, "params", None) or {}
    items = params.items() if isinstance(params, Mapping) else ((p.name, p) for p in params)
    return RunbookRead(
        name=runbook.name,
        description=getattr(runbook, "description", "") or "",
        role=_text(getattr(runbook, "role", "operator")),
        exclusive=bool(getattr(runbook, "exclusive", False)),
        params=[
            RunbookParamRead(
                name=str(name),
                type=_text(getattr(spec, "type", "string")),
                default=_default(spec),
                description=getattr(spec, "description", "") or "",
                choices=[str(c) for c in getattr(spec, "choices", None) or ()],
            )
            for name, spec in items
        ],
        steps=[_step_read(s, i) for i, s in enumerate(getattr(runbook, "steps", ()))],
        rollback=[_step_read(s, i) for i, s in enumerate(getattr(runbook, "rollback", ()) or ())],
    )


def run_detail(view: RunView) -> RunbookRunDetail:
    """A run with its steps, as the API shows it."""
    waiting = view.waiting
    return RunbookRunDetail(
        **RunbookRunRead.model_validate(view.run).model_dump(),
        steps=[
            RunbookStepRead(
                **{k: getattr(s, k) for k in RunbookStepRead.model_fields if k != "waiting"},
                waiting=s is waiting,
            )
            for s in view.steps
        ],
    )


def _service(request: Request, catalog: Any) -> Runbooks:
    found = getattr(request.app.state, "runbooks", None)
    if isinstance(found, Runbooks):
        return found
    config = request.app.state.config if hasattr(request.app.state, "config") else None
    return Runbooks(config, catalog, engine_factory(config, catalog))


def _check_role(service: Runbooks, name: str, who: Principal) -> Any:
    runbook = service.runbook(name)
    needed = Role(_text(getattr(runbook, "role", "operator")))
    if not who.role.allows(needed):
        raise ApiError(
            403,
            "forbidden",
            f"runbook {name!r} needs the {needed.value!r} role; token {who.name!r} has "
            f"{who.role.value!r}",
        )
    return runbook


def _actor(who: Principal) -> str:
    return who.name


def _client(request: Request) -> str:
    return request.client.host if request.client else ""


def _in_background(service: Runbooks, run_id: int) -> None:
    service.execute_in_background(run_id)


@router.get("", summary="The configured runbooks")
def list_runbooks(request: Request, catalog: CatalogDep, _who: Viewer) -> list[RunbookRead]:
    return [describe(r) for r in _service(request, catalog).runbooks()]


@router.get("/runs", summary="Runs, newest first")
def list_runs(
    request: Request,
    catalog: CatalogDep,
    _who: Viewer,
    runbook: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[RunbookRunRead]:
    rows = _service(request, catalog).runs(runbook, limit=limit)
    return [RunbookRunRead.model_validate(r) for r in rows]


@router.get("/runs/{run_id}", summary="One run with its steps (poll it to follow the run)")
def show_run(
    run_id: RunNumber, request: Request, catalog: CatalogDep, _who: Viewer
) -> RunbookRunDetail:
    return run_detail(_service(request, catalog).get(run_id))


@router.post(
    "/runs/{run_id}/confirm",
    summary="Answer a run's waiting confirm step",
    responses=errors({409: "No confirm step waits (or it was answered meanwhile)."}),
)
def confirm_step(
    run_id: RunNumber, body: RunbookConfirm, request: Request, catalog: CatalogDep, who: Viewer
) -> RunbookRunDetail:
    service = _service(request, catalog)
    view = service.get(run_id)
    _check_role(service, view.run.runbook, who)
    service.confirm(
        run_id,
        body.step,
        body.approved,
        _actor(who),
        comment=body.comment,
        client=_client(request),
    )
    request.state.audit_target = f"run={run_id}"
    return run_detail(service.get(run_id))


def _follow(
    request: Request, catalog: Any, who: Principal, run_id: int, mode: str, body: RunbookRunFollow
) -> RunbookRunStarted:
    service = _service(request, catalog)
    view = service.get(run_id)
    _check_role(service, view.run.runbook, who)
    act = service.resume if mode == "resume" else service.rollback
    new = act(run_id, _actor(who), params=param_texts(body.params), client=_client(request))
    _in_background(service, new)
    request.state.audit_target = f"run={new},of={run_id}"
    return RunbookRunStarted(id=new, url=f"{router.prefix}/runs/{new}")


@router.post(
    "/runs/{run_id}/resume",
    summary="Resume a failed or interrupted run from the step it stopped at",
    status_code=202,
    responses=errors({409: "The run is not failed or interrupted."}),
)
def resume_run(
    run_id: RunNumber,
    request: Request,
    catalog: CatalogDep,
    who: Viewer,
    body: RunbookRunFollow | None = None,
) -> RunbookRunStarted:
    return _follow(request, catalog, who, run_id, "resume", body or RunbookRunFollow())


@router.post(
    "/runs/{run_id}/rollback",
    summary="Roll back what a run did",
    status_code=202,
    responses=errors({409: "The run is running, or already rolled back."}),
)
def rollback_run(
    run_id: RunNumber,
    request: Request,
    catalog: CatalogDep,
    who: Viewer,
    body: RunbookRunFollow | None = None,
) -> RunbookRunStarted:
    return _follow(request, catalog, who, run_id, "rollback", body or RunbookRunFollow())


@router.get("/{name}", summary="One runbook: its parameters and steps")
def show_runbook(name: Name, request: Request, catalog: CatalogDep, _who: Viewer) -> RunbookRead:
    return describe(_service(request, catalog).runbook(name))


@router.post(
    "/{name}/runs",
    summary="Start a run (or a dry run) of a runbook; it runs in the server",
    status_code=202,
    responses=errors({409: "The runbook is exclusive and another run of it is running."}),
)
def start_run(
    name: Name, body: RunbookRunStart, request: Request, catalog: CatalogDep, who: Viewer
) -> RunbookRunStarted:
    service = _service(request, catalog)
    _check_role(service, name, who)
    run_id = service.start(
        name, param_texts(body.params), _actor(who), dry_run=body.dry_run, client=_client(request)
    )
    _in_background(service, run_id)
    request.state.audit_target = f"runbook={name},run={run_id}"
    return RunbookRunStarted(id=run_id, url=f"{router.prefix}/runs/{run_id}")
