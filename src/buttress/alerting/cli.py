"""``buttress alerts``: generate the Prometheus rules, Alertmanager configuration and Grafana
dashboards of ``alerting:``, check them and run their generated tests."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Generate, check and test the alerting output of the `alerting:` section.",
    no_args_is_help=True,
)
