"""``buttress slo``: list the SLOs of ``alerting.slos`` and report their error budgets."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from buttress.errors import UsageError
from buttress.platform.cli import print_table, state

if TYPE_CHECKING:
    from buttress.alerting.report import BudgetReport, Excluded
    from buttress.config import ButtressConfig
    from buttress.config._slo import SLOConfig

app = typer.Typer(
    help="List the SLOs of `alerting.slos` and report their error budgets from Prometheus.",
    no_args_is_help=True,
)

Format = Literal["table", "json"]


def _duration(seconds: float) -> str:
    """``2592000`` -> ``30d``, ``5400`` -> ``1h30m``: the largest units, at most two."""
    left = round(seconds)
    parts: list[str] = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if left >= size:
            parts.append(f"{left // size}{unit}")
            left %= size
        if len(parts) == 2:
            break
    return "".join(parts) or "0s"


def _tiers(config: ButtressConfig, slo: SLOConfig) -> list[str]:
    """The burn tiers the SLO alerts on: its own list, else every enabled tier."""
    enabled = [t.name for t in config.alerting.burn_tiers if t.enabled]
    return list(slo.burn_tiers) if slo.burn_tiers is not None else enabled


@app.command("list")
def list_slos(
    ctx: typer.Context,
    fmt: Annotated[Format, typer.Option("--format", help="Output format.")] = "table",
) -> None:
    """The SLOs of `alerting.slos`: name, service, objective, period, SLI kind and the burn
    tiers each alerts on."""
    config = state(ctx).config
    slos = config.alerting.slos
    if fmt == "json":
        typer.echo(
            json.dumps(
                [
                    {
                        "name": slo.name,
                        "service": slo.service,
                        "team": slo.team,
                        "objective": str(slo.objective),
                        "period_seconds": slo.period,
                        "period": _duration(slo.period),
                        "sli": slo.sli.kind,
                        "tiers": _tiers(config, slo),
                    }
                    for slo in slos
                ],
                indent=2,
            )
        )
        return
    if not slos:
        typer.echo("no SLOs configured (declare them under alerting.slos)")
        return
    print_table(
        ("SLO", "service", "objective", "period", "SLI", "tiers"),
        (
            (
                slo.name,
                slo.service,
                f"{slo.objective} %",
                _duration(slo.period),
                slo.sli.kind,
                ", ".join(_tiers(config, slo)) or "(none)",
            )
            for slo in slos
        ),
    )


def parse_time(text: str, *, option: str) -> float:
    """``--at``-style input: ISO 8601 (UTC when no offset is given) or UNIX seconds."""
    value = text.strip()
    try:
        return float(value)
    except ValueError:
        pass
    try:
        when = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"{option}: {text!r} is not a time: give ISO 8601 (2026-12-03T12:00:00Z) or UNIX "
            "seconds"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.timestamp()


def parse_windows(values: Sequence[str]) -> list[tuple[float, float]]:
    """``--exclude START/END`` intervals (each a :func:`parse_time`), END after START."""
    out = []
    for value in values:
        start, sep, end = value.partition("/")
        if not sep:
            raise UsageError(f"--exclude: {value!r} is not START/END (two times joined by /)")
        first = parse_time(start, option="--exclude")
        last = parse_time(end, option="--exclude")
        if last <= first:
            raise UsageError(f"--exclude: {value!r} ends before it starts")
        out.append((first, last))
    return out


def maintenance_excluded(config: ButtressConfig) -> Excluded:
    """The maintenance windows of ``alerting.alertmanager.maintenance_windows`` as an
    ``excluded`` test for :func:`buttress.alerting.report.compute`: a moment in any of them
    (as Alertmanager reads it, :func:`buttress.alerting.maintenance.in_window`) is left out
    of every SLO's budget."""
    from buttress.alerting.maintenance import in_window
    from buttress.alerting.report import never_excluded

    windows = list(config.alerting.alertmanager.maintenance_windows)
    if not windows:
        return never_excluded

    def excluded(ts: dt.datetime) -> bool:
        return any(in_window(window, ts) for window in windows)

    return excluded


def _excluded(config: ButtressConfig, windows: list[tuple[float, float]]) -> Excluded:
    configured = maintenance_excluded(config)

    def excluded(ts: dt.datetime) -> bool:
        seconds = ts.timestamp()
        return configured(ts) or any(start <= seconds < end for start, end in windows)

    return excluded


def _percent(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value * 100:.{digits}f} %"


def _exhaustion(report: BudgetReport) -> str:
    if report.exhaustion is None:
        if report.remaining is None:
            return "n/a (no traffic)"
        return "n/a (no recent traffic)" if report.burn_rate is None else "never (no burn)"
    if report.exhaustion == 0:
        return "spent"
    return _duration(report.exhaustion)


@app.command("report")
def report(
    ctx: typer.Context,
    prometheus: Annotated[
        str | None,
        typer.Option(
            "--prometheus",
            help="Prometheus's base URL (default: alerting.prometheus.url).",
            show_default=False,
        ),
    ] = None,
    fmt: Annotated[Format, typer.Option("--format", help="Output format.")] = "table",
    at: Annotated[
        str | None,
        typer.Option(
            "--at",
            help="The end of the period: ISO 8601 or UNIX seconds (default: now).",
            show_default=False,
        ),
    ] = None,
    exclude: Annotated[
        list[str] | None,
        typer.Option(
            "--exclude",
            help="Leave START/END (ISO 8601 or UNIX seconds) out of the budget, like a "
            "maintenance window; repeatable.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Each SLO's error budget over its period, read from Prometheus's SLO recording rules:
    the SLI, the budget consumed and remaining, the burn rate of the last hour and the time
    to exhaustion at that burn. Maintenance windows are left out of the budget. Exit 1 when
    Prometheus does not answer or refuses a query."""
    from buttress.alerting.report import PrometheusClient, fetch_all
    from buttress.config._dashboards import check_prometheus_url

    config = state(ctx).config
    section = config.alerting.prometheus
    url = prometheus if prometheus is not None else section.url
    if url is None:
        raise UsageError(
            "no Prometheus to read: pass --prometheus URL (e.g. http://prometheus:9090) or set "
            "alerting.prometheus.url"
        )
    try:
        url = check_prometheus_url(url)
    except ValueError as exc:
        raise UsageError(f"--prometheus: {exc}") from None
    end = parse_time(at, option="--at") if at is not None else time.time()
    excluded = _excluded(config, parse_windows(exclude or []))
    slos = config.alerting.slos
    with PrometheusClient(url, timeout=section.timeout) as client:
        reports = fetch_all(client, slos, end=end, excluded=excluded)
    if fmt == "json":
        typer.echo(json.dumps([r.as_dict() for r in reports], indent=2))
        return
    if not reports:
        typer.echo("no SLOs configured (declare them under alerting.slos)")
        return
    print_table(
        (
            "SLO",
            "service",
            "objective",
            "period",
            "SLI",
            "budget used",
            "budget left",
            "burn (1h)",
            "exhausted in",
            "excluded",
        ),
        (_row(r) for r in reports),
    )


def _row(r: BudgetReport) -> tuple[str, ...]:
    from buttress.alerting.report import STEP

    return (
        r.slo,
        r.service,
        f"{r.objective} %",
        _duration(r.period),
        _percent(r.sli, 4),
        _percent(r.consumed, 1),
        _percent(r.remaining, 1),
        "n/a" if r.burn_rate is None else f"{r.burn_rate:.2f}x",
        _exhaustion(r),
        _duration(r.excluded_points * STEP) if r.excluded_points else "-",
    )
