"""``/api/v1/cluster`` and ``/api/v1/jobs``: the replicas sharing the catalog and who leads;
every job with its schedule and next due time; each job's run history."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import anyio.to_thread
from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from buttress.jobs.runner import JobRunner
from buttress.jobs.tables import JobRow
from buttress.platform.auth import Viewer

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["jobs"])


class _Read(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class ReplicaRead(_Read):
    """A control-plane process sharing the catalog."""

    id: str
    host: str
    pid: int
    version: str
    started_at: dt.datetime
    seen_at: dt.datetime = Field(description="when it last reported itself")
    alive: bool = Field(description="it reported itself within the last few lease periods")
    leader: bool


class ClusterRead(BaseModel):
    """Who shares the catalog and who leads (runs the scheduled jobs)."""

    replica: str = Field(description="the replica that answered")
    leading: bool = Field(description="whether the replica that answered leads")
    leader: str | None = Field(description="the replica holding the lease, if any holds it")
    leader_since: dt.datetime | None
    term: int = Field(description="the leader's fencing term (grows by one at each change)")
    lease_expires_at: dt.datetime | None
    reason: str = Field(description="why the replica that answered leads or does not")
    replicas: list[ReplicaRead]


class JobRead(_Read):
    """A job the runner keeps in the catalog."""

    key: str
    handler: str
    schedule: str = Field(description="cron EXPR TZ, every Ns, or at ISO-TIME (one-shot)")
    missed: str
    timeout: float | None
    next_due: dt.datetime


class RunRead(_Read):
    """One run of a job, or a due time skipped (``skipped``: still running; ``missed``)."""

    id: int
    job: str
    due_at: dt.datetime
    started_at: dt.datetime
    ended_at: dt.datetime | None
    outcome: str = Field(
        description="running, succeeded, failed, timed_out, interrupted, skipped or missed"
    )
    error: str
    late: float = Field(description="seconds between the due time and the start")
    missed: int = Field(description="due times dropped (or folded into this run)")
    replica: str
    term: int


def _runner(request: Request) -> JobRunner:
    runner = getattr(request.app.state, "jobs", None)
    if not isinstance(runner, JobRunner):
        raise HTTPException(503, "the job runner is not running")
    return runner


def _cluster(runner: JobRunner) -> ClusterRead:
    lead = runner.election.current()
    replicas = [ReplicaRead.model_validate(r) for r in runner.replicas()]
    live = lead is not None and any(r.leader for r in replicas)
    return ClusterRead(
        replica=runner.replica,
        leading=runner.election.leading,
        leader=lead.holder if lead is not None and live else None,
        leader_since=lead.since if lead is not None and live else None,
        term=lead.term if lead is not None else 0,
        lease_expires_at=lead.expires_at if lead is not None else None,
        reason=runner.election.reason,
        replicas=replicas,
    )


@router.get(
    "/cluster",
    response_model=ClusterRead,
    summary="The replicas sharing the catalog, the leader and since when",
)
async def cluster(request: Request, _who: Viewer) -> ClusterRead:
    return await anyio.to_thread.run_sync(_cluster, _runner(request))


def _jobs(runner: JobRunner) -> list[JobRead]:
    with runner.catalog.begin() as session:
        rows = session.scalars(select(JobRow).order_by(JobRow.next_due)).all()
        return [JobRead.model_validate(r) for r in rows]


@router.get(
    "/jobs", response_model=list[JobRead], summary="Every job in the catalog, soonest due first"
)
async def jobs(request: Request, _who: Viewer) -> list[JobRead]:
    return await anyio.to_thread.run_sync(_jobs, _runner(request))


@router.get(
    "/jobs/runs",
    response_model=list[RunRead],
    summary="Runs of every job (or of one, by ?job=), newest first",
)
async def runs(
    request: Request,
    _who: Viewer,
    job: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> list[RunRead]:
    runner = _runner(request)
    found = await anyio.to_thread.run_sync(lambda: runner.runs(job, limit=limit))
    return [RunRead.model_validate(r) for r in found]
