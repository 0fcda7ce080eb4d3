"""``buttress incident``: list, show, declare and act on incidents in the catalog directly
(no control plane needs to run): the same answers and actions as ``/api/v1/incidents``. The
actor of an action is ``cli:<user>``. A refused transition exits 2 with the reason."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from buttress.incidents.actions_cli import actions_log
from buttress.platform.cli import print_table, state

app = typer.Typer(
    help="Incidents: list, show, declare by hand, acknowledge, mitigate, resolve, close, note.",
    no_args_is_help=True,
)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
Ref = Annotated[str, typer.Argument(help="The incident's id, e.g. INC-2026-0042.")]


def _row(incident: Any) -> dict[str, Any]:
    from buttress.incidents.api import IncidentRead

    return IncidentRead.model_validate(incident).model_dump(mode="json")


@app.command("list")
def list_cmd(
    ctx: typer.Context,
    status: Annotated[str | None, typer.Option(help="Only this status.")] = None,
    severity: Annotated[str | None, typer.Option(help="Only this severity (P1..P4).")] = None,
    service: Annotated[str | None, typer.Option(help="Only incidents affecting it.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500, help="At most this many.")] = 50,
    as_json: JsonOption = False,
) -> None:
    """Incidents, newest first."""
    from buttress.incidents import service as svc

    with state(ctx).catalog() as catalog, catalog.begin() as session:
        rows = [
            _row(r)
            for r in svc.list_incidents(
                session=session, status=status, severity=severity, service=service, limit=limit
            )
        ]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    print_table(
        ("id", "severity", "status", "title", "services", "triggered"),
        (
            (
                r["ref"],
                r["severity"],
                r["status"],
                r["title"],
                ",".join(r["services"]),
                r["triggered_at"][:19],
            )
            for r in rows
        ),
    )


@app.command()
def show(ctx: typer.Context, ref: Ref, as_json: JsonOption = False) -> None:
    """One incident with its alerts and timeline."""
    from buttress.incidents import service as svc

    with state(ctx).catalog() as catalog, catalog.begin() as session:
        incident = svc.get(session=session, ref=ref)
        data = _row(incident)
        data["alerts"] = [
            {"fingerprint": a.fingerprint, "status": a.status, "labels": a.labels}
            for a in svc.alerts_of(session=session, incident=incident)
        ]
        data["timeline"] = [
            {"at": e.at.isoformat(), "kind": e.kind, "actor": e.actor, "detail": e.detail}
            for e in svc.timeline(session=session, incident=incident)
        ]
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    typer.echo(f"{data['ref']}  {data['severity']}  {data['status']}  {data['title']}")
    if data["services"]:
        typer.echo(f"services: {', '.join(data['services'])}")
    for role, person in data["roles"].items():
        typer.echo(f"{role}: {person}")
    for a in data["alerts"]:
        typer.echo(f"alert {a['fingerprint']} {a['status']} {a['labels'].get('alertname', '')}")
    print_table(
        ("at", "event", "actor", "detail"),
        (
            (e["at"][:19], e["kind"], e["actor"], json.dumps(e["detail"]) if e["detail"] else "")
            for e in data["timeline"]
        ),
    )


@app.command()
def declare(
    ctx: typer.Context,
    title: Annotated[str, typer.Argument(help="What is happening.")],
    severity: Annotated[
        str,
        typer.Option(
            help="P1 outage or data exposure, P2 major degradation, P3 limited, P4 minimal."
        ),
    ] = "P3",
    service: Annotated[
        list[str] | None, typer.Option(help="A service affected (repeat for more).")
    ] = None,
    impact: Annotated[str, typer.Option(help="Who is affected and how.")] = "",
) -> None:
    """Declare an incident by hand; prints its id."""
    from buttress.incidents import service as svc

    st = state(ctx)
    with st.catalog() as catalog, catalog.begin() as session:
        incident = svc.declare(
            session=session,
            title=title,
            severity=severity,
            services=service or [],
            impact=impact,
            actor=st.actor(),
        )
        typer.echo(incident.ref)


def _act(ctx: typer.Context, ref: str, action: Any) -> None:
    from buttress.incidents import service as svc

    st = state(ctx)
    with st.catalog() as catalog, catalog.begin() as session:
        incident = svc.act(
            session=session,
            ref=ref,
            action=action,
            actor=st.actor(),
            postmortem_required=st.config.incidents.postmortem_required,
        )
        typer.echo(f"{incident.ref} {incident.status}")


@app.command()
def ack(ctx: typer.Context, ref: Ref) -> None:
    """Acknowledge an incident (someone is on it)."""
    _act(ctx, ref, "ack")


@app.command()
def mitigate(ctx: typer.Context, ref: Ref) -> None:
    """Mark an incident mitigated (the impact is stopped, the cause may remain)."""
    _act(ctx, ref, "mitigate")


@app.command()
def resolve(ctx: typer.Context, ref: Ref) -> None:
    """Resolve an incident (the cause is fixed)."""
    _act(ctx, ref, "resolve")


@app.command()
def close(ctx: typer.Context, ref: Ref) -> None:
    """Close a resolved incident (nothing more to do)."""
    _act(ctx, ref, "close")


@app.command()
def note(
    ctx: typer.Context, ref: Ref, text: Annotated[str, typer.Argument(help="The note.")]
) -> None:
    """Add a note to an incident's timeline."""
    from buttress.incidents import service as svc

    st = state(ctx)
    with st.catalog() as catalog, catalog.begin() as session:
        incident = svc.note(session=session, ref=ref, text=text, actor=st.actor())
        typer.echo(f"{incident.ref} noted")


@app.command("notify-test")
def notify_test(
    ctx: typer.Context,
    channel: Annotated[str, typer.Argument(help="A channel's name under incidents.notifiers.")],
) -> None:
    """Send a test notification (P4, ref INC-TEST) on one channel; exit 1 when it failed."""
    from buttress.incidents.notify import Dispatcher, Notification

    dispatcher = Dispatcher.from_config(state(ctx).config)
    test = Notification(
        kind="triggered",
        ref="INC-TEST",
        title="buttress notify-test",
        severity="P4",
        status="triggered",
        summary="A test sent by `buttress incident notify-test`: nothing is wrong.",
    )
    (delivery,) = dispatcher.send_sync(test, [channel])
    if delivery.ok:
        typer.echo(
            f"{channel}: delivered ({delivery.attempts} attempt(s), status {delivery.status})"
        )
        return
    typer.echo(
        f"{channel}: failed after {delivery.attempts} attempt(s): {delivery.error}", err=True
    )
    raise typer.Exit(1)


@app.command("roles")
def roles_cmd(
    ctx: typer.Context,
    ref: Ref,
    commander: Annotated[str | None, typer.Option(help="The incident commander.")] = None,
    tech_lead: Annotated[str | None, typer.Option(help="The technical lead.")] = None,
    communications: Annotated[
        str | None, typer.Option(help="Who speaks to customers and stakeholders.")
    ] = None,
    clear: Annotated[
        list[str] | None,
        typer.Option(help="Clear this role (commander, tech_lead, communications); repeatable."),
    ] = None,
) -> None:
    """Set or clear an incident's roles (the ones not named stay as they are)."""
    from buttress.incidents import service as svc

    roles: dict[str, str | None] = {
        role: person
        for role, person in (
            ("commander", commander),
            ("tech_lead", tech_lead),
            ("communications", communications),
        )
        if person
    }
    roles.update(dict.fromkeys(clear or ()))
    if not roles:
        raise typer.BadParameter("name a role to set (--commander ...) or to clear (--clear ...)")
    st = state(ctx)
    with st.catalog() as catalog, catalog.begin() as session:
        incident = svc.set_roles(session=session, ref=ref, roles=roles, actor=st.actor())
        shown = ", ".join(f"{k}={v}" for k, v in sorted(incident.roles.items())) or "none"
        typer.echo(f"{incident.ref}: roles {shown}")


@app.command()
def update(
    ctx: typer.Context,
    ref: Ref,
    text: Annotated[str, typer.Argument(help="What the people affected are told.")],
    status: Annotated[
        str,
        typer.Option(help="investigating, identified, monitoring or resolved."),
    ] = "investigating",
) -> None:
    """Post a public update on an incident (shown on the status page, /status)."""
    from buttress.incidents.status import public_update

    st = state(ctx)
    with st.catalog() as catalog, catalog.begin() as session:
        incident = public_update(
            session=session, ref=ref, status=status, text=text, actor=st.actor()
        )
        typer.echo(f"{incident.ref} updated ({status})")


# post-mortems and action items (buttress.incidents.postmortem_cli)
from buttress.incidents import postmortem_cli  # noqa: E402

app.command("postmortem")(postmortem_cli.postmortem)
app.add_typer(postmortem_cli.item_app, name="action-item")
app.command("action-items")(postmortem_cli.action_items)
# automated actions (incidents.actions): their own module
app.command("actions-log")(actions_log)
