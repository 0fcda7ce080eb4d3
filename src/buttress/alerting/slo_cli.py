"""``buttress slo``: list the SLOs of ``alerting.slos`` and report their error budgets."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="List the SLOs of `alerting.slos` and report their error budgets from Prometheus.",
    no_args_is_help=True,
)
