"""``buttress level`` and ``buttress flags``: the degradation levels of `health.degradation`,
and manual overrides (kept in the catalog: every `buttress serve` on it follows them within
`evaluate_every`)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from buttress.errors import UsageError
from buttress.platform.cli import state

__all__ = ["flags_app", "level_app"]

level_app = typer.Typer(
    help="Show the degradation levels and override the level (e.g. during a failover).",
    no_args_is_help=True,
)
flags_app = typer.Typer(
    help="Feature flags and limits per degradation level.", no_args_is_help=True
)


def _settings(ctx: typer.Context) -> Any:
    settings = state(ctx).config.health.degradation
    if settings is None:
        raise UsageError("no degradation levels configured (declare health.degradation)")
    return settings


def _announce(ctx: typer.Context) -> None:
    """With a shared level, tell every process at once (they read the catalog anyway)."""
    config = state(ctx).config
    if config.health.degradation is None or not config.health.degradation.shared:
        return
    from buttress.degradation.shared_level import announce_override
    from buttress.state import SharedStateStore, open_store

    store = open_store(config.state)
    if isinstance(store, SharedStateStore):
        announce_override(store)
        store.close()


def _fleet(ctx: typer.Context) -> dict[str, object] | None:
    """With ``shared: true`` on Redis: the most severe live report of the replicas."""
    config = state(ctx).config
    if config.health.degradation is None or not config.health.degradation.shared:
        return None
    from buttress.degradation.shared_level import fleet_record, reports
    from buttress.state import SharedStateStore, open_store

    store = open_store(config.state)
    if not isinstance(store, SharedStateStore):
        return None
    try:
        live = reports(store)
        record = fleet_record(store)
    except Exception as exc:  # noqa: BLE001  # Redis down: say so, the override still shows
        return {"error": f"{store.describe()} does not answer: {type(exc).__name__}"}
    finally:
        store.close()
    if not live:
        return None
    # the record agrees with the live reports but for a report that expired within the last
    # round (sync_interval): then when it changed is not known yet
    since = record.since if record is not None and record.index == live[0].index else None
    return {
        "index": live[0].index,
        "since": _iso(since) if since is not None else None,
        "reported_by": live[0].member,
        "replicas": [{"member": r.member, "index": r.index} for r in live],
    }


def _iso(seconds: float) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(seconds, dt.UTC).isoformat()


def _in_force(ctx: typer.Context, names: list[str], current: Any) -> dict[str, object]:
    """The level in force now, why and since when, as far as the CLI can know it."""
    if current is not None:
        return {
            "source": "override",
            "level": current.level,
            "reason": current.reason,
            "actor": current.actor,
            "since": current.created_at.isoformat(),
            "until": current.expires_at.isoformat(),
        }
    fleet = _fleet(ctx)
    if fleet is not None and "index" in fleet:
        index = int(str(fleet["index"]))
        return {
            "source": "fleet",
            "level": names[index] if index < len(names) else str(index),
            "since": fleet["since"],
            "reported_by": fleet["reported_by"],
            "replicas": fleet["replicas"],
        }
    return {
        "source": "automatic",
        "level": None,
        "note": AUTOMATIC_NOTE,
        **({"shared_state": fleet["error"]} if fleet else {}),
    }


AUTOMATIC_NOTE = (
    "no override holds: the automatic level is computed by `buttress serve` from its own "
    "metrics; ask it with `buttress level show --server http://HOST:PORT` (token in "
    "$BUTTRESS_TOKEN), GET /api/v1/level or the dashboard"
)


def _served(url: str) -> dict[str, Any]:
    """``GET /api/v1/level`` of a running ``buttress serve`` (token: $BUTTRESS_TOKEN)."""
    import os

    import httpx

    from buttress.errors import ButtressError

    token = os.environ.get("BUTTRESS_TOKEN", "")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    where = f"{url.rstrip('/')}/api/v1/level"
    try:
        answer = httpx.get(where, headers=headers, timeout=5.0)
    except httpx.HTTPError as exc:
        raise ButtressError(f"--server: {where} did not answer: {type(exc).__name__}") from None
    if answer.status_code in (401, 403):
        raise ButtressError(
            f"--server: {where} answered {answer.status_code}: set $BUTTRESS_TOKEN to a viewer "
            "token (buttress token create)"
        )
    if answer.status_code != 200:
        raise ButtressError(f"--server: {where} answered HTTP {answer.status_code}")
    body: dict[str, Any] = answer.json()
    return body


def _served_line(body: dict[str, Any]) -> str:
    import datetime as dt

    since = dt.datetime.fromtimestamp(float(body["since"]), dt.UTC)
    override = body.get("override")
    if override:
        why = f"override by {override['actor']}: {override['reason']}"
    else:
        why = ", ".join(body.get("reasons") or []) or "triggers clear"
    return (
        f"in force: {body['level']} (automatic {body['automatic']}) since "
        f"{since:%Y-%m-%d %H:%M:%S} UTC: {why}"
    )


@level_app.command("show")
def show(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False,
    server: Annotated[
        str | None,
        typer.Option(
            "--server",
            envvar="BUTTRESS_SERVER",
            help="URL of a running `buttress serve` to ask for the automatic level "
            "(token: $BUTTRESS_TOKEN).",
        ),
    ] = None,
) -> None:
    """The level in force now, why and since when (the override if one holds; else, with a
    shared level on Redis, the fleet's level, since when, and which replica reported it), then the
    configured levels with their triggers."""
    from buttress.degradation import overrides
    from buttress.degradation.controller import build_levels

    levels = build_levels(_settings(ctx))
    with state(ctx).catalog() as catalog, catalog.begin() as session:
        current = overrides.active(session=session)
        history = overrides.recent(session=session, limit=5)
    in_force = _in_force(ctx, list(levels.names), current)
    if server:
        served = _served(server)
        in_force = {
            "source": "server",
            "server": server,
            "level": served["level"],
            "automatic": served["automatic"],
            "reasons": served.get("reasons", []),
            "since": served["since"],
            "override": served.get("override"),
            "line": _served_line(served),
        }
    info = {
        "in_force": in_force,
        "levels": [
            {
                "name": lv.name,
                "triggers": [t.describe() for t in lv.triggers],
                "for": lv.hold,
                "cooldown": lv.cooldown,
            }
            for lv in levels.levels
        ],
        "override": current.as_dict() if current else None,
        "override_history": [o.as_dict() for o in history],
    }
    if as_json:
        typer.echo(json.dumps(info, indent=2, sort_keys=True))
        return
    if in_force["source"] == "server":
        typer.echo(f"{in_force['line']} (from {server})")
    elif current:
        typer.echo(
            f"in force: {current.level} (override) since "
            f"{current.created_at:%Y-%m-%d %H:%M:%S} UTC until "
            f"{current.expires_at:%Y-%m-%d %H:%M:%S} UTC, by {current.actor}: {current.reason}"
        )
    elif in_force["source"] == "fleet":
        import datetime as dt

        count = len(in_force["replicas"])  # type: ignore[arg-type]  # a list, built above
        since = in_force["since"]
        when = (
            f" since {dt.datetime.fromisoformat(str(since)):%Y-%m-%d %H:%M:%S} UTC"
            if since is not None
            else " (changing: since when is known after the next report)"
        )
        typer.echo(
            f"in force: at least {in_force['level']} (fleet level){when}, reported by replica "
            f"{in_force['reported_by']}; {count} live replica report(s); no override holds"
        )
    else:
        if "shared_state" in in_force:
            typer.echo(f"fleet level unknown: {in_force['shared_state']}")
        typer.echo(f"in force: {AUTOMATIC_NOTE}")
    typer.echo("levels:")
    for i, lv in enumerate(levels.levels):
        when = ", ".join(t.describe() for t in lv.triggers) or "normal operation"
        typer.echo(f"{i} {lv.name:12} {when}")


@level_app.command("set")
def set_(
    ctx: typer.Context,
    level: Annotated[str, typer.Argument(help="A level name, e.g. ORANGE.")],
    for_: Annotated[str, typer.Option("--for", help="How long: 30m, 2h, 1d...")] = "30m",
    reason: Annotated[str, typer.Option("--reason", help="Why (shown and audited).")] = "",
) -> None:
    """Hold LEVEL for a while, whatever the triggers say (the override is audited)."""
    from buttress.catalog import audit
    from buttress.config._types import parse_duration
    from buttress.degradation import overrides
    from buttress.degradation.controller import build_levels

    names = build_levels(_settings(ctx)).names
    if level not in names:
        raise UsageError(f"unknown level {level!r}; the levels are {', '.join(names)}")
    if not reason.strip():
        raise UsageError("say why with --reason (it is shown to everyone and audited)")
    try:
        seconds = parse_duration(for_)
    except ValueError as exc:
        raise UsageError(f"--for: {exc}") from None
    st = state(ctx)
    with st.catalog() as catalog, catalog.begin() as session:
        record = overrides.create(
            session=session, level=level, reason=reason, seconds=seconds, actor=st.actor()
        )
        audit.record(
            session=session, actor=st.actor(), action="level.override", target=f"level={level}",
            outcome="success", detail={"for_seconds": seconds, "reason": record.reason},
        )  # fmt: skip
    _announce(ctx)
    typer.echo(f"level {level} until {record.expires_at:%Y-%m-%d %H:%M:%S} UTC: {record.reason}")


@level_app.command("clear")
def clear(ctx: typer.Context) -> None:
    """End the override in force (the automatic level takes over)."""
    from buttress.catalog import audit
    from buttress.degradation import overrides

    _settings(ctx)
    st = state(ctx)
    with st.catalog() as catalog, catalog.begin() as session:
        cleared = overrides.clear(session=session, actor=st.actor())
        audit.record(
            session=session, actor=st.actor(), action="level.clear", outcome="success",
            detail={"cleared": [c.id for c in cleared]},
        )  # fmt: skip
    _announce(ctx)
    typer.echo(f"cleared {len(cleared)} override(s)" if cleared else "no override was in force")


@flags_app.command("list")
def list_flags(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False,
) -> None:
    """Every feature, on or off at each level, and the limits of each level."""
    from buttress.degradation.controller import build_levels

    levels = build_levels(_settings(ctx))
    table = {
        lv.name: {
            "features": {f: f not in levels.disabled(i) for f in levels.features},
            "limits": levels.limits(i),
        }
        for i, lv in enumerate(levels.levels)
    }
    if as_json:
        typer.echo(json.dumps(table, indent=2, sort_keys=True, default=str))
        return
    width = max((len(f) for f in levels.features), default=7)
    typer.echo(f"{'feature':{width}}  " + "  ".join(f"{n:>9}" for n in levels.names))
    for feature in levels.features:
        marks = "  ".join(
            f"{'on' if table[n]['features'][feature] else 'OFF':>9}" for n in levels.names
        )
        typer.echo(f"{feature:{width}}  {marks}")
    for name in levels.names:
        limits = ", ".join(f"{k}={v}" for k, v in table[name]["limits"].items()) or "-"
        typer.echo(f"limits at {name}: {limits}")
