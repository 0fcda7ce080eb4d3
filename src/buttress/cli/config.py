"""``buttress config``: check, show and export the configuration schema."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated, Literal

import typer
import yaml

from buttress.components import components
from buttress.config import json_schema as config_json_schema
from buttress.config import load
from buttress.config._loader import resolve_path
from buttress.config._types import next_fire_times
from buttress.config_checks import register_domain_checks
from buttress.platform.cli import state

app = typer.Typer(
    help="Check, show and export the configuration (buttress.yaml).", no_args_is_help=True
)


@app.command("check")
def check(
    ctx: typer.Context,
    file: Annotated[
        Path | None,
        typer.Argument(
            help="File to check; default: --config, $BUTTRESS_CONFIG or ./buttress.yaml."
        ),
    ] = None,
) -> None:
    """Validate a configuration file and report every problem with file:line:column.

    Exit code 0 when it is valid, 2 when it is not.
    """
    path = resolve_path(file or state(ctx).config_path)
    register_domain_checks()
    config = load(path, check_files=True)
    typer.echo(f"{path or 'built-in defaults (no buttress.yaml here)'}: ok")
    for destination in config.backup.destinations:
        for issue in destination.unresolved:
            typer.echo(
                f"warning: {issue} (commands that use destination {destination.name} fail)",
                err=True,
            )
    for component in components():
        for line in component.config_warnings(config):
            typer.echo(f"warning: {line}", err=True)
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    for i, target in enumerate(config.backup.targets):
        for field in ("schedule", "restore_test_schedule"):
            cron = getattr(target, field)
            if cron:
                times = ", ".join(f"{t:%Y-%m-%d %H:%M}" for t in next_fire_times(cron, now))
                typer.echo(f"  backup.targets[{i}].{field} {cron!r} (UTC) next: {times}")


@app.command("show")
def show(
    ctx: typer.Context,
    fmt: Annotated[
        Literal["yaml", "json"], typer.Option("--format", help="Output format.")
    ] = "yaml",
) -> None:
    """Print the effective configuration (file + defaults + ${VAR} values), secrets as ***."""
    st = state(ctx)
    data = st.config.model_dump(mode="json")
    data["data_dir"] = str(st.resolved_data_dir())
    if fmt == "json":
        typer.echo(json.dumps(data, indent=2))
    else:
        typer.echo(yaml.safe_dump(data, sort_keys=False, default_flow_style=False).rstrip())


@app.command("schema")
def schema(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file instead of stdout.")
    ] = None,
) -> None:
    """Print the JSON Schema of buttress.yaml, for editors (e.g. yaml-language-server)."""
    text = json.dumps(json_schema(), indent=2) + "\n"
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {output}", err=True)


def json_schema() -> dict[str, object]:
    """The JSON Schema of ``buttress.yaml`` (:func:`buttress.config.json_schema`)."""
    return config_json_schema()
