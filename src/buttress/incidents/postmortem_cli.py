"""``buttress incident postmortem``, ``buttress incident action-item add|done|wontfix`` and
``buttress incident action-items``: post-mortems and their follow-ups on the catalog directly,
as ``/api/v1/incidents/{id}/postmortem`` and ``.../action-items`` do. A refusal, an unknown id
or a bad date exits 2 with the reason."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer

from buttress.errors import NotFoundError, UsageError
from buttress.platform.cli import print_table, state

__all__ = ["action_items", "item_app", "postmortem"]

item_app = typer.Typer(
    help="Action items of an incident's post-mortem: add, done, won't fix.",
    no_args_is_help=True,
)

Ref = Annotated[str, typer.Argument(help="The incident's id, e.g. INC-2026-0042.")]
ItemId = Annotated[int, typer.Argument(help="The action item's number.", min=1)]


@contextlib.contextmanager
def _known() -> Iterator[None]:
    """An unknown incident or item is bad input here: exit 2 like a refusal."""
    try:
        yield
    except NotFoundError as exc:
        raise UsageError(str(exc)) from exc


def _date(text: str | None, option: str) -> dt.date | None:
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{option}: {text!r} is not a date (YYYY-MM-DD)") from None


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"--edit: {path} is not UTF-8 text") from None
    except OSError as exc:
        raise UsageError(f"--edit: cannot read {path}: {exc.strerror or exc}") from None


def postmortem(
    ctx: typer.Context,
    ref: Ref,
    regenerate: Annotated[
        bool,
        typer.Option(
            "--regenerate", help="Redraft the draft from the timeline (its edits are lost)."
        ),
    ] = False,
    edit: Annotated[
        Path | None,
        typer.Option("--edit", help="Replace the body with this Markdown file.", metavar="FILE"),
    ] = None,
    publish: Annotated[bool, typer.Option("--publish", help="Publish the post-mortem.")] = False,
    output: Annotated[
        Path | None,
        typer.Option("--output", help="Write the Markdown to this file.", metavar="FILE"),
    ] = None,
) -> None:
    """Draft an incident's post-mortem from its timeline when it has none, and print it;
    or redraft, replace its body from a file, publish it."""
    from buttress.incidents import postmortem as pm
    from buttress.incidents import service as svc
    from buttress.incidents.tables import IncidentPostmortem

    if regenerate and edit is not None:
        raise UsageError("--regenerate and --edit both replace the body: give one of them")
    body = None if edit is None else _read(edit)
    done: list[str] = []
    st = state(ctx)
    with st.catalog() as catalog, catalog.begin() as session, _known():
        incident = svc.get(session=session, ref=ref)
        found = session.get(IncidentPostmortem, incident.id)
        if found is None:
            found = pm.create_postmortem(session=session, ref=ref, actor=st.actor(), body=body)
            done.append("drafted" if body is None else "written")
        elif regenerate:
            pm.create_postmortem(session=session, ref=ref, actor=st.actor(), regenerate=True)
            done.append("redrafted")
        elif body is not None and body != found.body:
            pm.update_postmortem(session=session, ref=ref, body=body, actor=st.actor())
            done.append("edited")
        if publish and found.status != "published":
            pm.publish_postmortem(session=session, ref=ref, actor=st.actor())
            done.append("published")
        text, status, shown = found.body, found.status, incident.ref
    if output is not None:
        try:
            output.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"--output: cannot write {output}: {exc.strerror or exc}") from None
        typer.echo(f"{shown} post-mortem ({status}) written to {output}")
    elif edit is not None or publish:
        typer.echo(f"{shown} post-mortem {', '.join(done) or f'unchanged ({status})'}")
    else:
        typer.echo(text, nl=False)


@item_app.command("add")
def add(
    ctx: typer.Context,
    ref: Ref,
    title: Annotated[str, typer.Argument(help="What is to be done.")],
    owner: Annotated[str, typer.Option(help="Who does it.")],
    due: Annotated[str | None, typer.Option(help="By when (YYYY-MM-DD).")] = None,
) -> None:
    """Track a follow-up of an incident; prints its number."""
    from buttress.incidents import postmortem as pm
    from buttress.incidents.tables import Incident

    when = _date(due, "--due")
    st = state(ctx)
    with st.catalog() as catalog, catalog.begin() as session, _known():
        item = pm.add_action_item(
            session=session, ref=ref, title=title, owner=owner, due=when, actor=st.actor()
        )
        incident = session.get_one(Incident, item.incident_id)
        typer.echo(f"action item {item.id} added to {incident.ref}")


def _set_status(ctx: typer.Context, item_id: int, status: str) -> None:
    from buttress.incidents import postmortem as pm

    st = state(ctx)
    with st.catalog() as catalog, catalog.begin() as session, _known():
        item = pm.update_action_item(
            session=session, item_id=item_id, status=status, actor=st.actor()
        )
        typer.echo(f"action item {item.id} {item.status}")


@item_app.command("done")
def done(ctx: typer.Context, item_id: ItemId) -> None:
    """Mark an action item done."""
    _set_status(ctx, item_id, "done")


@item_app.command("wontfix")
def wontfix(ctx: typer.Context, item_id: ItemId) -> None:
    """Mark an action item as not to be done."""
    _set_status(ctx, item_id, "wontfix")


@item_app.command("reopen")
def reopen(ctx: typer.Context, item_id: ItemId) -> None:
    """Open an action item again."""
    _set_status(ctx, item_id, "open")


def action_items(
    ctx: typer.Context,
    overdue: Annotated[
        bool, typer.Option("--overdue", help="Only open items due before today (UTC).")
    ] = False,
    incident: Annotated[str | None, typer.Option(help="Only this incident's.")] = None,
    status: Annotated[str | None, typer.Option(help="Only open, done or wontfix.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Action items of every incident (overdue ones soonest due first)."""
    from buttress.incidents import postmortem as pm
    from buttress.incidents.postmortem_api import item_read

    today = dt.datetime.now(dt.UTC).date()
    with state(ctx).catalog() as catalog, catalog.begin() as session, _known():
        rows = [
            item_read(item, inc, today).model_dump(mode="json")
            for item, inc in pm.list_action_items(
                session=session, ref=incident, status=status, overdue=overdue, today=today
            )
        ]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    print_table(
        ("#", "incident", "title", "owner", "due", "status"),
        (
            (
                str(r["id"]),
                r["incident"],
                r["title"],
                r["owner"],
                (r["due"] or "") + (" (overdue)" if r["overdue"] else ""),
                r["status"],
            )
            for r in rows
        ),
    )
