"""``buttress jobs``: the scheduled jobs the control plane keeps in the catalog (backups,
restore tests, and the domains after them), their runs, and which replica leads.

It reads the catalog only (no control plane needs to run): the same answers as
``/api/v1/jobs``, ``/api/v1/jobs/runs`` and ``/api/v1/cluster``.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Any

import typer

from buttress.platform.cli import print_table, state

app = typer.Typer(
    help="Show the scheduled jobs (backups, restore tests, ...), their runs and which "
    "control-plane replica leads (runs them).",
    no_args_is_help=True,
)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def _when(value: dt.datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value is not None else "-"


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


@app.command("list")
def list_jobs(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Every job with its schedule and next due time (UTC), soonest first."""
    from sqlalchemy import select

    from buttress.jobs.tables import JobRow

    with state(ctx).catalog() as catalog, catalog.begin() as session:
        rows = session.scalars(select(JobRow).order_by(JobRow.next_due)).all()
        data = [
            {
                "key": r.key,
                "handler": r.handler,
                "schedule": r.schedule,
                "missed": r.missed,
                "timeout": r.timeout,
                "next_due": _iso(r.next_due),
            }
            for r in rows
        ]
        table = [
            (
                r.key,
                r.schedule,
                _when(r.next_due),
                r.missed,
                f"{r.timeout:g}s" if r.timeout else "-",
            )
            for r in rows
        ]
    if as_json:
        typer.echo(json.dumps(data, indent=2))
    elif not table:
        typer.echo(
            "no jobs yet: the control plane registers them when it starts (each backup target "
            "with a schedule is a job)"
        )
    else:
        print_table(("job", "schedule", "next due (UTC)", "missed runs", "timeout"), table)


@app.command("runs")
def runs(
    ctx: typer.Context,
    job: Annotated[str | None, typer.Option("--job", help="Only this job's runs.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=10000, help="How many.")] = 20,
    as_json: JsonOption = False,
) -> None:
    """The newest runs (of every job, or of --job), with outcome, lateness and replica."""
    from sqlalchemy import select

    from buttress.jobs.tables import JobRunRow

    with state(ctx).catalog() as catalog, catalog.begin() as session:
        query = select(JobRunRow).order_by(JobRunRow.id.desc()).limit(limit)
        if job is not None:
            query = query.where(JobRunRow.job == job)
        rows = session.scalars(query).all()
        data = [
            {
                "id": r.id,
                "job": r.job,
                "due_at": _iso(r.due_at),
                "started_at": _iso(r.started_at),
                "ended_at": _iso(r.ended_at),
                "outcome": r.outcome,
                "error": r.error,
                "late": r.late,
                "missed": r.missed,
                "replica": r.replica,
                "term": r.term,
            }
            for r in rows
        ]
        table = [
            (
                str(r.id),
                r.job,
                _when(r.started_at),
                r.outcome + (f" (+{r.missed} missed)" if r.missed else ""),
                f"{r.late:.2f}s",
                r.replica,
                r.error[:80],
            )
            for r in rows
        ]
    if as_json:
        typer.echo(json.dumps(data, indent=2))
    elif not table:
        typer.echo(f"no runs of {job} yet" if job else "no runs yet")
    else:
        print_table(("id", "job", "started (UTC)", "outcome", "late", "replica", "error"), table)


@app.command("cluster")
def cluster(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """The control-plane replicas sharing this catalog, and which one leads (the leader runs
    the scheduled jobs; the others take over within a lease when it stops)."""
    from sqlalchemy import select

    from buttress.catalog.claims import catalog_now
    from buttress.jobs.runner import alive_after
    from buttress.jobs.tables import LeaderLease, ReplicaRow

    st = state(ctx)
    server = st.config.server
    window = alive_after(server.leader_lease, server.leader_renew)
    with st.catalog() as catalog, catalog.begin() as session:
        now = catalog_now(session)
        lease = session.scalars(select(LeaderLease)).first()
        live = lease if lease is not None and lease.expires_at > now else None
        rows = session.scalars(select(ReplicaRow).order_by(ReplicaRow.started_at)).all()
        leader: dict[str, Any] = {
            "holder": live.holder if live is not None else None,
            "term": lease.term if lease is not None else 0,
            "since": _iso(live.since) if live is not None else None,
            "lease_expires_at": _iso(lease.expires_at) if lease is not None else None,
        }
        replicas = [
            {
                "id": r.id,
                "host": r.host,
                "pid": r.pid,
                "version": r.version,
                "started_at": _iso(r.started_at),
                "seen_at": _iso(r.seen_at),
                "alive": (now - r.seen_at).total_seconds() < window,
                "leader": live is not None and live.holder == r.id,
            }
            for r in rows
        ]
        headline = (
            f"leader: {live.holder} (term {live.term}, since {_when(live.since)} UTC)"
            if live is not None
            else "leader: none (no control plane holds the lease: scheduled jobs are not running)"
        )
        table = [
            (
                r.id,
                r.host,
                str(r.pid),
                r.version,
                _when(r.seen_at),
                "yes" if (now - r.seen_at).total_seconds() < window else "no",
                "yes" if live is not None and live.holder == r.id else "",
            )
            for r in rows
        ]
    if as_json:
        typer.echo(json.dumps({"leader": leader, "replicas": replicas}, indent=2))
        return
    typer.echo(headline)
    if not table:
        typer.echo("no replica has reported itself yet (start `buttress serve`)")
    else:
        print_table(
            ("replica", "host", "pid", "version", "last seen (UTC)", "alive", "leads"), table
        )
