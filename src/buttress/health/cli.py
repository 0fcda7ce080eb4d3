"""``buttress health``: run every configured dependency check now and show the result."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from buttress.platform.cli import print_table, state

__all__ = ["health"]


def health(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False,
) -> None:
    """Run every check under `health.checks` once, now, and print each one's status, latency
    and detail with the health score. Exit 1 when a critical check is down (the same rule as
    /readyz), 0 otherwise. `buttress serve` runs the checks on their intervals."""
    import asyncio

    from buttress.health.build import build_checks
    from buttress.health.monitor import HealthMonitor

    whole = state(ctx).config
    config = whole.health
    monitor = HealthMonitor(
        build_checks(config, whole.base_dir), history=config.history, window=config.window
    )
    asyncio.run(monitor.run_once())
    snapshot = monitor.snapshot()
    if as_json:
        typer.echo(json.dumps(snapshot.model_dump(mode="json"), indent=2, sort_keys=True))
    else:
        if not snapshot.checks:
            typer.echo("no checks configured (declare them under health.checks)")
            return
        print_table(
            ("check", "type", "critical", "status", "latency", "detail"),
            (
                (
                    c.name,
                    c.kind,
                    "yes" if c.critical else "",
                    c.status,
                    f"{c.latency_ms or 0.0:.1f} ms",
                    c.detail,
                )
                for c in snapshot.checks
            ),
        )
        typer.echo(
            f"health score {snapshot.score or 0.0:.1f}/100, "
            + ("ready" if snapshot.ready else "NOT READY (a critical check is down)")
        )
    if not snapshot.ready:
        raise typer.Exit(1)
