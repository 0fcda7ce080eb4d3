"""``buttress token``: API tokens for the control plane (admin access to the catalog)."""

from __future__ import annotations

from typing import Annotated

import typer

from buttress.platform.cli import print_table, state

app = typer.Typer(help="Create, list and revoke API tokens.", no_args_is_help=True)

_ROLES = "viewer (read), operator (read + operate), admin (everything, incl. tokens and audit)"


@app.command("create")
def create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="A name saying who or what uses the token.")],
    role: Annotated[str, typer.Option("--role", "-r", help=f"One of: {_ROLES}.")] = "viewer",
) -> None:
    """Create a token and print it once: it is stored only as a hash and cannot be shown again."""
    from buttress.catalog import audit, tokens

    st = state(ctx)
    with st.catalog() as catalog, catalog.begin() as session:
        row, text = tokens.create(session=session, name=name, role=role, created_by=st.actor())
        audit.record(
            session=session,
            actor=st.actor(),
            action="token.create",
            target=f"token_id={row.id}",
            outcome="success",
            detail={"name": row.name, "role": row.role},
        )
    typer.echo(
        f"created token {row.id} ({row.name}, role {row.role}); it is shown only this once:",
        err=True,
    )
    typer.echo(text)


@app.command("list")
def list_(
    ctx: typer.Context,
    all_: Annotated[bool, typer.Option("--all", "-a", help="Include revoked tokens.")] = False,
) -> None:
    """List tokens (ids, names, roles, last use); never their secrets."""
    from buttress.catalog import tokens

    with state(ctx).catalog() as catalog, catalog.begin() as session:
        rows = tokens.get_all(session=session, include_revoked=all_)
    print_table(
        ("id", "name", "role", "created", "last used", "revoked"),
        (
            (
                r.id,
                r.name,
                r.role,
                f"{r.created_at:%Y-%m-%d %H:%M}",
                f"{r.last_used_at:%Y-%m-%d %H:%M}" if r.last_used_at else "-",
                f"{r.revoked_at:%Y-%m-%d %H:%M}" if r.revoked_at else "-",
            )
            for r in rows
        ),
        soft_wrap=True,
    )


@app.command("revoke")
def revoke(
    ctx: typer.Context,
    token_id: Annotated[
        str, typer.Argument(help="The token's id (8 characters, see 'token list').")
    ],
) -> None:
    """Revoke a token: requests made with it are refused from now on."""
    from buttress.catalog import audit, tokens

    st = state(ctx)
    with st.catalog() as catalog, catalog.begin() as session:
        row = tokens.revoke(session=session, token_id=token_id)
        audit.record(
            session=session,
            actor=st.actor(),
            action="token.revoke",
            target=f"token_id={row.id}",
            outcome="success",
        )
    typer.echo(f"revoked token {row.id} ({row.name})")
