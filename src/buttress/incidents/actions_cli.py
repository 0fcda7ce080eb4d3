"""``buttress incident actions-log REF``: the automated actions run for an incident."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from buttress.platform.cli import print_table, state

__all__ = ["actions_log"]


def actions_log(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="The incident's id, e.g. INC-2026-0042.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """The automated actions run for an incident: rule, status, outcome, what was done."""
    from buttress.incidents import service as svc
    from buttress.incidents.actions import runs_of
    from buttress.incidents.actions_api import ActionRunRead

    with state(ctx).catalog() as catalog, catalog.begin() as session:
        incident = svc.get(session=session, ref=ref)
        rows = [
            ActionRunRead.of(r).model_dump(mode="json")
            for r in runs_of(session=session, incident=incident)
        ]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    print_table(
        ("at", "rule", "status", "outcome", "what", "error"),
        (
            (
                r["at"][:19],
                r["rule"],
                r["status"],
                r["outcome"] + (" (dry run)" if r["dry_run"] and r["outcome"] != "dry_run" else ""),
                r["what"],
                r["error"] or "",
            )
            for r in rows
        ),
    )
