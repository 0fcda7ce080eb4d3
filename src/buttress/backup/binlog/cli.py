"""``buttress binlog``: archive a MariaDB/MySQL target's binary logs (the pusher), show the
recoverable window, and restore to a time."""

from __future__ import annotations

import datetime as dt
import json
import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer

from buttress.errors import UsageError
from buttress.platform.cli import print_table, state

app = typer.Typer(
    help="MariaDB/MySQL binlog archiving into a target's repository, and restore to a time.",
    no_args_is_help=True,
)

TargetArgument = Annotated[str, typer.Argument(help="A mariadb target with a `binlog:` section.")]
IdentityOption = Annotated[
    list[Path] | None,
    typer.Option("--identity", "-i", help="age identity file (default: backup.identity_files)."),
]


def parse_time(text: str) -> dt.datetime:
    """``2026-12-02 14:35:00+00`` (ISO 8601, with its time zone)."""
    value = text.strip()
    if value[-3:-2] in "+-" and value[-2:].isdigit():
        value += ":00"  # PostgreSQL's "+00"
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        raise UsageError(
            f"--target-time {text!r}: not a time (e.g. '2026-12-02 14:35:00+00')"
        ) from None
    if when.tzinfo is None:
        raise UsageError(f"--target-time {text!r}: give its time zone (e.g. +00)")
    return when


@app.command("pusher")
def pusher(ctx: typer.Context, target: TargetArgument) -> None:
    """Stream TARGET's binlogs (mariadb-binlog --read-from-remote-server --raw --stop-never)
    into its spool and store each finished file in its destinations, until SIGTERM or Ctrl-C
    (then the file being written is stored too). One pusher per target streams at a time
    (a claim in the catalog): another one waits."""
    from buttress.backup.binlog.pusher import BinlogPusher, run_exclusively
    from buttress.backup.service import Backups

    st = state(ctx)
    stop = threading.Event()

    def on_signal(_sig: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        with st.catalog() as catalog:
            found = BinlogPusher(
                Backups(st.config.backup, catalog), target, say=lambda m: typer.echo(m, err=True)
            )
            run_exclusively(found, catalog, stop)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


@app.command("status")
def status(
    ctx: typer.Context,
    target: TargetArgument,
    identity: IdentityOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The recoverable window of TARGET (oldest dump with a binlog position to the last
    archived binlog event) and its archived binlog files."""
    from buttress.backup.binlog.restore import recoverable_window
    from buttress.backup.service import Backups

    st = state(ctx)
    with st.catalog() as catalog:
        backups = Backups(st.config.backup, catalog)
        window = recoverable_window(backups, target, identity or ())
    for note in backups.notes:
        typer.echo(f"warning: {note}", err=True)
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "oldest": window.oldest.isoformat() if window.oldest else None,
                    "newest": window.newest.isoformat() if window.newest else None,
                    "dumps": [
                        {
                            "backup_id": d.backup_id,
                            "file": d.file,
                            "position": d.position,
                            "at": d.at.isoformat(),
                        }
                        for d in window.dumps
                    ],
                    "archived": [a.name.name for a in window.archived],
                },
                indent=2,
            )
        )
        return
    typer.echo(f"recoverable window of {target}: {window.describe()}")
    print_table(
        ("file", "stored in", "stored size"),
        ((a.name.name, a.destination.name, str(a.size)) for a in window.archived),
    )


@app.command("restore")
def restore(
    ctx: typer.Context,
    target: TargetArgument,
    target_time: Annotated[
        str, typer.Option("--target-time", help="The time to restore to, '2026-12-02 14:35:00+00'.")
    ],
    database: Annotated[
        str | None,
        typer.Option("--database", help="A new (or empty) database on the target's server."),
    ] = None,
    identity: IdentityOption = None,
) -> None:
    """Restore TARGET as it was at --target-time into a new database: the newest dump taken
    before it, then the archived binlogs replayed up to it. Refused (nothing created) for a
    time outside the recoverable window."""
    from buttress.backup.binlog.restore import restore_to_time
    from buttress.backup.service import Backups

    when = parse_time(target_time)
    st = state(ctx)
    with st.catalog() as catalog:
        backups = Backups(st.config.backup, catalog)
        done = restore_to_time(backups, target, when, database=database, identity=identity or ())
    for note in backups.notes:
        typer.echo(f"warning: {note}", err=True)
    typer.echo(f"restored {done}")
