"""``buttress wal``: the commands PostgreSQL runs to archive and restore WAL, and the archive's
status. See docs/pitr.md."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from buttress.errors import UsageError
from buttress.platform.cli import print_table, state

app = typer.Typer(
    help=(
        "WAL archiving for point-in-time recovery of `kind: physical` PostgreSQL targets: "
        "`archive_command = 'buttress wal push TARGET %p'`, "
        "`restore_command = 'buttress wal fetch TARGET %f %p'` (see "
        "`buttress backup postgres-setup TARGET`)."
    ),
    no_args_is_help=True,
)

TargetArg = Annotated[str, typer.Argument(help="A target with `kind: physical` and `wal:`.")]

# restore_command's exit codes: PostgreSQL takes any code up to 125 as "no such file" and ends
# recovery there (promoting at that point); above 125 it aborts recovery. A file the archive
# does not hold is the first; anything else (a damaged copy, storage down, a bad config) must
# be the second, or a restore would silently stop early.
FETCH_MISSING = 1
FETCH_ABORT = 126


@app.command("push")
def push(
    ctx: typer.Context,
    target: TargetArg,
    path: Annotated[Path, typer.Argument(help="The WAL file (`%p`, relative to the data dir).")],
    spool: Annotated[
        Path | None,
        typer.Option(
            "--spool",
            help="Async mode without reading the configuration: spool into this folder "
            "(wal.spool_dir; `backup postgres-setup` writes it into archive_command).",
        ),
    ] = None,
    spool_max_mb: Annotated[
        int,
        typer.Option("--spool-max-mb", min=1, help="With --spool: wal.spool_max_mb."),
    ] = 4096,
) -> None:
    """Archive one WAL file (PostgreSQL's `archive_command`): compressed, encrypted,
    checksummed, in every destination of TARGET (its `required` count) before it exits 0.

    The same file pushed again succeeds; a different file under the same name fails, as does
    a segment from another cluster than the one the archive holds. Exit 1 on any failure:
    PostgreSQL keeps the file and calls again.
    """
    if spool is not None:  # what buttress._entry does before the CLI is imported
        from buttress.backup.wal.fast import spool_push

        spool_push(target, path, spool, spool_max_mb)
        return
    st = state(ctx)
    from buttress.backup.wal.async_cli import async_target, push_spooled

    spooled = async_target(st.config.backup, target)
    if spooled is not None:  # wal.mode async: into the spool, for the pusher
        push_spooled(spooled, path)
        return
    from buttress.backup.wal.service import Wal

    with st.catalog() as catalog:
        wal = Wal(st.config.backup, catalog)
        result = wal.push(target, path)
    for name, why in result.failed.items():
        typer.echo(f"warning: destination {name} failed: {why}", err=True)


@app.command("fetch")
def fetch(
    ctx: typer.Context,
    target: TargetArg,
    name: Annotated[str, typer.Argument(help="The WAL file PostgreSQL asks for (`%f`).")],
    out: Annotated[
        Path | None, typer.Argument(help="Where to write it (`%p`); not with --prefetch.")
    ] = None,
    prefetch: Annotated[
        bool,
        typer.Option(
            "--prefetch",
            help="Download the `wal.prefetch` segments after NAME into the spool (what a "
            "fetch starts in the background; nothing when another prefetch of TARGET runs).",
        ),
    ] = False,
    spool: Annotated[
        Path | None,
        typer.Option(
            "--spool",
            help="wal.spool_dir, on the command line so that a segment already prefetched is "
            "served before the CLI loads (a restore writes it into restore_command).",
        ),
    ] = None,
) -> None:
    """Restore one WAL file from TARGET's archive (PostgreSQL's `restore_command`).

    Exit 1 when the archive does not hold it (the normal end of recovery); exit 126 when it
    cannot be read whole (a damaged copy in every destination, storage down, a bad config):
    PostgreSQL then stops recovery instead of ending it early at the wrong point.
    """
    from buttress.backup.wal.async_cli import fetch_prefetched, prefetch_after, run_prefetch
    from buttress.backup.wal.errors import WalMissingError
    from buttress.backup.wal.service import Wal

    try:
        st = state(ctx)  # no catalog: a restore must work when the catalog is gone too
        wal = Wal(st.config.backup, None)
        wal_target = wal.target(target)
        if prefetch:
            run_prefetch(ctx, wal_target, name)
            return
        if out is None:
            raise UsageError("wal fetch: give OUT, where to write the file (`%p`)")
        if spool is not None and wal_target.wal is not None and wal_target.wal.spool_dir != spool:
            raise UsageError(
                f"wal fetch --spool {spool}: target {target}'s wal.spool_dir is "
                f"{wal_target.wal.spool_dir}"
            )
        if fetch_prefetched(wal_target, name, out):
            typer.echo(f"wal fetch: {name} from the prefetched copy in the spool", err=True)
        elif not wal.fetch(target, name, out).authenticated:
            typer.echo(
                f"warning: {name} not authenticated: no manifest key (backup.manifest_key_file)",
                err=True,
            )
        prefetch_after(ctx, wal_target, name)
    except WalMissingError as exc:
        typer.echo(f"{exc}", err=True)
        raise typer.Exit(FETCH_MISSING) from None
    except typer.Exit:
        raise
    except BaseException as exc:  # noqa: BLE001  # every other failure must abort recovery
        from buttress.secrets import redact

        typer.echo(f"error: {redact(str(exc)) or type(exc).__name__} (recovery stops)", err=True)
        raise typer.Exit(FETCH_ABORT) from None


@app.command("pusher")
def pusher(
    ctx: typer.Context,
    target: TargetArg,
    once: Annotated[
        bool, typer.Option("--once", help="Push what is spooled, then exit (1: some stayed).")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="With --once: print JSON.")] = False,
) -> None:
    """Push TARGET's spool (`wal.mode: async`) into its destinations, on the database host,
    until stopped (SIGTERM, Ctrl-C): batches of `wal.batch` files, `wal.push_workers` at once.
    `buttress serve` runs one for every async target whose spool is on its host."""
    from buttress.backup.wal.async_cli import run_pusher
    from buttress.backup.wal.service import Wal

    run_pusher(ctx, Wal(state(ctx).config.backup, None).target(target), once, as_json)


@app.command("status")
def status(
    ctx: typer.Context,
    target: Annotated[str | None, typer.Argument(help="One target (default: every one).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False,
) -> None:
    """What each WAL target's archive holds, from the catalog: files, first and last
    segment, when the last one was handed over and stored; then the recoverable window (from
    the oldest to the newest point a restore can reach), the WAL gaps after the oldest good
    base backup and the archive lag (as `GET /api/v1/backups/targets/TARGET/wal` answers)."""
    from buttress.backup.wal.service import Wal
    from buttress.backup.wal.setup import server_drift
    from buttress.backup.wal.status import HistoryCache, describe, status_of, when

    st = state(ctx)
    with st.catalog() as catalog:
        wal = Wal(st.config.backup, catalog)
        names = [target] if target else [t.name for t in wal.targets()]
        if not names:
            typer.echo("no target archives WAL (docs/pitr.md)", err=True)
            raise typer.Exit(1)
        histories = HistoryCache(wal)
        found = [status_of(wal.target(n), catalog, histories=histories.reader(n)) for n in names]
        for f in found:  # the server's archive_command against the target's wal: settings
            drift = server_drift(wal.target(f.target))
            if drift is not None:
                f.problems.append(drift)
        if as_json:
            typer.echo(json.dumps([f.model_dump(mode="json") for f in found], indent=2))
            return
        rows = [
            [
                f.target,
                f.mode,
                str(f.segments),
                str(f.history_files),
                f.oldest.name if f.oldest else "-",
                f.newest.name if f.newest else "-",
                when(f.newest.ready_at if f.newest else None),
            ]
            for f in found
        ]
    print_table(
        ["target", "mode", "segments", "histories", "oldest", "newest", "newest handed"], rows
    )
    for f in found:
        for line in describe(f):
            typer.echo(line)
    sys.stdout.flush()
