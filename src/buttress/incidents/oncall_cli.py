"""``buttress oncall``: who is on call, from ``incidents.oncall`` in buttress.yaml (no catalog
and no control plane needed). Times are shown in each schedule's time zone. An unknown
schedule exits 2 naming the known ones."""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated

import typer

from buttress.config._oncall import OnCallConfig
from buttress.errors import UsageError
from buttress.platform.cli import print_table, state

app = typer.Typer(
    help="On-call schedules: who is on call now, and a schedule's coming shifts.",
    no_args_is_help=True,
)


def _config(ctx: typer.Context) -> OnCallConfig:
    return state(ctx).config.incidents.oncall


def _when(config: OnCallConfig, schedule: str, at: str | None) -> dt.datetime:
    if at is None:
        return dt.datetime.now(dt.UTC)
    try:
        when = dt.datetime.fromisoformat(at)
    except ValueError:
        raise UsageError(
            f"--at {at!r}: expected an ISO 8601 time such as 2026-03-01T09:00 or "
            "2026-03-01T09:00+01:00"
        ) from None
    if not 1900 <= when.year <= 9000:
        raise UsageError(f"--at {at!r} is out of range (years 1900 to 9000)")
    if when.tzinfo is None:
        return config.schedules[schedule].aware(when)
    return when.astimezone(dt.UTC)


def _show(when: dt.datetime | None, time_zone: str) -> str:
    if when is None:
        return "-"
    from zoneinfo import ZoneInfo

    return f"{when.astimezone(ZoneInfo(time_zone)):%a %Y-%m-%d %H:%M %Z}"


def _known(config: OnCallConfig, schedule: str) -> None:
    if schedule not in config.schedules:
        from buttress.incidents.oncall import UnknownScheduleError

        raise UnknownScheduleError(schedule, config.schedules)


@app.command()
def now(
    ctx: typer.Context,
    schedule: Annotated[
        str | None, typer.Argument(help="Only this schedule (default: every one).")
    ] = None,
) -> None:
    """Who is on call now on each schedule, and until when."""
    from buttress.incidents.oncall import current

    config = _config(ctx)
    names = list(config.schedules) if schedule is None else [schedule]
    for name in names:
        _known(config, name)
    at = dt.datetime.now(dt.UTC)
    rows = []
    for name in names:
        user, until = current(config, name, at)
        rows.append((name, user or "(nobody)", _show(until, config.schedules[name].time_zone)))
    if not rows:
        typer.echo("no on-call schedules (incidents.oncall.schedules is empty)", err=True)
        return
    print_table(("schedule", "on call", "until"), rows)


@app.command()
def show(
    ctx: typer.Context,
    schedule: Annotated[str, typer.Argument(help="The schedule's name.")],
    days: Annotated[int, typer.Option(min=1, max=366, help="How many days ahead.")] = 14,
    at: Annotated[
        str | None,
        typer.Option(help="From this time (ISO 8601; without an offset: the schedule's zone)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
) -> None:
    """A schedule's shifts and gaps for the coming days."""
    from buttress.incidents.oncall import gaps, on_call, shifts

    config = _config(ctx)
    _known(config, schedule)
    start = _when(config, schedule, at)
    end = start + dt.timedelta(days=days)
    zone = config.schedules[schedule].time_zone
    found = shifts(config, schedule, start, end)
    holes = gaps(config, schedule, start, end)
    if as_json:
        data = {
            "schedule": schedule,
            "time_zone": zone,
            "at": start.isoformat(),
            "on_call": on_call(config, schedule, start),
            "shifts": [
                {
                    "user": s.user,
                    "start": s.start.isoformat(),
                    "end": s.end.isoformat(),
                    "layer": s.layer,
                }
                for s in found
            ],
            "gaps": [{"start": a.isoformat(), "end": b.isoformat()} for a, b in holes],
        }
        typer.echo(json.dumps(data, indent=2))
        return
    typer.echo(f"{schedule} ({zone}), {days} days from {_show(start, zone)}")
    print_table(
        ("from", "until", "on call", "layer"),
        ((_show(s.start, zone), _show(s.end, zone), s.user, s.layer) for s in found),
    )
    if holes:
        typer.echo("gaps (nobody on call):")
        print_table(("from", "until"), ((_show(a, zone), _show(b, zone)) for a, b in holes))
    else:
        typer.echo("no gaps")
