"""``buttress db``: catalog schema migrations."""

from __future__ import annotations

import typer

from buttress.platform.cli import state

app = typer.Typer(help="Manage the catalog database schema.", no_args_is_help=True)


@app.command("upgrade")
def upgrade(ctx: typer.Context) -> None:
    """Apply every pending migration to the catalog (safe to run again)."""
    from buttress.catalog import migrate

    with state(ctx).catalog(migrate=False, create=True) as catalog:
        before = migrate.current(catalog)
        catalog.upgrade()
        after = migrate.current(catalog)
    if before == after:
        typer.echo(f"{catalog.location}: already at revision {after}")
    else:
        typer.echo(f"{catalog.location}: upgraded {before or 'empty'} -> {after}")


@app.command("current")
def current(ctx: typer.Context) -> None:
    """Show the catalog's schema revision and the newest one this version knows."""
    from buttress.catalog import migrate

    with state(ctx).catalog(migrate=False) as catalog:
        typer.echo(
            f"{catalog.location}: revision {migrate.current(catalog) or 'none'} "
            f"(head {migrate.head()})"
        )
