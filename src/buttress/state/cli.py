"""``buttress state``: the shared state store of the resilience policies."""

from __future__ import annotations

import typer

from buttress.platform.cli import state

app = typer.Typer(
    help="Check the shared state store (Redis) the policies use.", no_args_is_help=True
)


@app.command("check")
def check(ctx: typer.Context) -> None:
    """Connect to the configured state store and report what the policies will see.

    Prints the Redis version, the round-trip time, how far the Redis clock is from this host's
    (decisions use the Redis clock, so this is information, not an error), whether it is a
    Redis Cluster, and loads the scripts. Exits 1 when Redis does not answer, refuses the
    credentials, is a cluster node while `state.cluster` is false, or is a cluster that is down.
    """
    from buttress.state import SharedStateStore, open_store

    config = state(ctx).config.state
    store = open_store(config)
    if not isinstance(store, SharedStateStore):
        typer.echo("state: memory (each process keeps its own; nothing to connect to)")
        return
    try:
        report = store.check()
    finally:
        store.close()
    typer.echo(f"state: {report['store']} answers (Redis {report['redis_version']})")
    cluster = report["cluster"]
    typer.echo(f"  prefix:         {report['prefix']}")
    typer.echo(
        "  cluster:        "
        + (f"yes, {cluster} primaries (cluster_state:ok)" if cluster else "no (one endpoint)")
    )
    typer.echo(f"  round trip:     {report['round_trip_ms']:.2f} ms")
    typer.echo(f"  clock offset:   {report['clock_offset_ms']:+.1f} ms (decisions use Redis time)")
    typer.echo(f"  scripts loaded: {report['scripts_loaded']}")
