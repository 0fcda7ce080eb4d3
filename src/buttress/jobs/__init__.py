"""Jobs: one runner for every domain's recurring and one-shot jobs, run once across the
replicas that share a catalog, by an elected leader with a fencing term (docs/replicas.md)."""

from __future__ import annotations

from buttress.jobs.leader import Election, FencedError, Leadership
from buttress.jobs.runner import (
    Job,
    JobContext,
    JobRunner,
    ReplicaInfo,
    RunInfo,
    cancel_timer,
    replica_id,
    set_timer,
)
from buttress.jobs.schedule import At, Cron, Every, Missed, Schedule

__all__ = [
    "At",
    "Cron",
    "Election",
    "Every",
    "FencedError",
    "Job",
    "JobContext",
    "JobRunner",
    "Leadership",
    "Missed",
    "ReplicaInfo",
    "RunInfo",
    "Schedule",
    "cancel_timer",
    "replica_id",
    "set_timer",
]
