"""The job runner as a component: one :class:`~buttress.jobs.JobRunner` per control-plane
process, provided to later components as ``jobs.runner`` (they register their handlers and jobs
in ``serve()``), started once every component is built and stopped last; ``/api/v1/cluster``,
``/api/v1/jobs``, ``buttress jobs``, ``buttress_leader``, and the scheduler's line in
``/readyz``. Its tables are ``jobs``, ``job_runs``, ``leader_lease`` and ``replicas``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager

from buttress.platform.component import (
    CliCommand,
    CliGroup,
    Component,
    Contribution,
    ServerContext,
)

__all__ = ["COMPONENT", "JOB_RUNNER", "JobsComponent"]

JOB_RUNNER = "jobs.runner"
"""The key under which the process's :class:`~buttress.jobs.JobRunner` is provided."""


class JobsComponent(Component):
    name = "jobs"
    section = "server"
    tables = "buttress.jobs.tables"

    def cli(self) -> Sequence[CliGroup | CliCommand]:
        from buttress.jobs.cli import app

        return [CliGroup("jobs", app)]

    def serve(self, ctx: ServerContext) -> Contribution:
        import anyio.to_thread

        from buttress.jobs.api import router
        from buttress.jobs.metrics import LeaderCollector
        from buttress.jobs.runner import JobRunner
        from buttress.platform.schemas import Readiness

        server = ctx.config.server
        runner = JobRunner(ctx.catalog, lease=server.leader_lease, renew=server.leader_renew)
        ctx.provide(JOB_RUNNER, runner)

        @asynccontextmanager
        async def lifespan() -> AsyncIterator[None]:
            await anyio.to_thread.run_sync(runner.start)
            try:
                yield
            finally:
                await anyio.to_thread.run_sync(runner.stop)

        def readiness() -> Mapping[str, Readiness]:
            # not a condition of readiness (every replica serves the API): whether it leads
            election = runner.election
            return {
                "scheduler": Readiness(ok=True, leading=election.leading, reason=election.reason)
            }

        return Contribution(
            routers=[router],
            collectors=[LeaderCollector(runner)],
            lifespan=lifespan,
            readiness=readiness,
            state={"jobs": runner},
            dashboard="/api/v1/cluster",
        )


COMPONENT = JobsComponent()
