"""``buttress backup``: take, list, check and restore backups of the configured targets."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from buttress.platform.cli import print_table, state

if TYPE_CHECKING:
    from buttress.backup.prune import WalPrune
    from buttress.backup.schemas import VerifyRead
    from buttress.backup.service import Backups
    from buttress.catalog import Catalog

app = typer.Typer(
    help="Back up the targets declared under `backup:` in buttress.yaml, and restore them.",
    no_args_is_help=True,
)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]
IdentityOption = Annotated[
    list[Path] | None,
    typer.Option("--identity", "-i", help="age identity file (default: backup.identity_files)."),
]
ManifestKeyOption = Annotated[
    Path | None,
    typer.Option(
        "--manifest-key",
        help="The manifest key file that authenticates manifests (default: "
        "backup.manifest_key_file); needed when the catalog has no record of the backup.",
    ),
]
TrustOption = Annotated[
    bool,
    typer.Option(
        "--trust-unauthenticated",
        help="Use a manifest that neither the catalog nor a manifest key can authenticate "
        "(warned about; a forged or replaced manifest would go unnoticed).",
    ),
]
FromOption = Annotated[
    str | None,
    typer.Option(
        "--from",
        help="Read the backup only from this destination (default: each object from the first "
        "destination whose copy matches the manifest).",
    ),
]


def _backups(
    ctx: typer.Context, catalog: Catalog, key: Path | None = None, trust: bool = False
) -> Backups:
    from buttress.backup.service import Backups

    return Backups(state(ctx).config.backup, catalog, manifest_key=key, trust_unauthenticated=trust)


def _warn(backups: Backups) -> None:
    for note in backups.notes:
        typer.echo(f"warning: {note}", err=True)


def _size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def _echo_json(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2, sort_keys=True, default=str))


class _RichReporter:
    """Progress bars on the terminal: bytes, rate, elapsed, and an ETA when the total is known."""

    def __init__(self, bars: Any) -> None:
        self.bars = bars
        self.task: Any = None

    def start(self, description: str, total: int | None) -> None:
        if self.task is not None:  # the previous phase is over: show it complete
            done = next(t for t in self.bars.tasks if t.id == self.task)
            self.bars.update(self.task, total=done.completed)
        self.task = self.bars.add_task(description, total=total)

    def advance(self, n: int) -> None:
        if self.task is not None:
            self.bars.advance(self.task, n)


@contextlib.contextmanager
def _progress() -> Iterator[None]:
    """Report long work as progress bars on stderr, when stderr is a terminal."""
    from buttress.backup import progress

    if not sys.stderr.isatty():
        yield
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    bars = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(binary_units=True),
        TransferSpeedColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
    )
    with bars, progress.reporting(_RichReporter(bars)):
        yield


@app.command("keygen")
def keygen(
    path: Annotated[Path, typer.Argument(help="Where to write the new private key (mode 0600).")],
) -> None:
    """Create an age key pair: the private key goes to PATH, the public key is printed.

    Put the public key (age1...) in backup.recipients on the machines that take backups; keep
    the private key where restores happen (backup.identity_files), and a copy offline.
    """
    from buttress.backup.keys import generate_identity

    recipient = generate_identity(path)
    typer.echo(f"wrote private key {path}; public key (for backup.recipients):", err=True)
    typer.echo(recipient)


@app.command("run")
def run(
    ctx: typer.Context,
    target: Annotated[str, typer.Argument(help="A target name from backup.targets.")],
    as_json: JsonOption = False,
) -> None:
    """Back up TARGET now: dump, compress, encrypt, checksum and store it in its destinations.

    The run is recorded in the catalog whatever happens; exit 1 if it failed.
    """
    from buttress.backup.service import Backups

    st = state(ctx)
    with st.catalog() as catalog, _progress():
        view = Backups(st.config.backup, catalog).run(target)
    if as_json:
        _echo_json(view.read().model_dump(mode="json", exclude_unset=True))
        return
    took = view.detail.get("timings", {}).get("total", 0.0)
    typer.echo(
        f"backup {view.id} of {view.target}: {_size(view.raw_size)} -> {_size(view.stored_size)} "
        f"(x{view.ratio:.1f}) in {took:.1f}s, stored in {', '.join(view.destinations)}"
    )
    for name, why in view.failed_destinations.items():
        typer.echo(f"warning: destination {name} failed: {why}", err=True)


@app.command("list")
def list_(
    ctx: typer.Context,
    target: Annotated[str | None, typer.Option("--target", "-t", help="Only this target.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many runs, newest first.")] = 50,
    as_json: JsonOption = False,
) -> None:
    """List backup runs, newest first: status, sizes, verify and restore-test results."""
    from buttress.backup.service import Backups

    st = state(ctx)
    with st.catalog() as catalog:
        backups = Backups(st.config.backup, catalog)
        runs = backups.runs(target, limit)
        total = backups.count_runs(target) if len(runs) >= limit else len(runs)
    if total > len(runs):  # on stderr, so that --json stays a plain list
        typer.echo(f"{len(runs)} of {total} runs shown, newest first; --limit N for more", err=True)
    if as_json:
        _echo_json([r.read().model_dump(mode="json", exclude_unset=True) for r in runs])
        return
    print_table(
        ("id", "target", "status", "started", "raw", "stored", "verify", "restore test"),
        (
            (
                r.id,
                r.target,
                r.status,
                r.started_at.strftime("%Y-%m-%d %H:%M:%S"),
                _size(r.raw_size),
                _size(r.stored_size),
                r.verify_status or "-",
                r.restore_test_status or "-",
            )
            for r in runs
        ),
    )


@app.command("show")
def show(
    ctx: typer.Context,
    backup_id: Annotated[str, typer.Argument(help="A backup id.")],
    as_json: JsonOption = False,
) -> None:
    """Show one run: catalog record and, for a good backup, its manifest summary."""
    from buttress.backup.service import Backups

    st = state(ctx)
    with st.catalog() as catalog:
        info = (
            Backups(st.config.backup, catalog)
            .describe(backup_id)
            .model_dump(mode="json", exclude_unset=True)
        )
    if as_json:
        _echo_json(info)
        return
    for key in (
        "id",
        "target",
        "status",
        "started_at",
        "finished_at",
        "error",
        "destinations",
        "failed_destinations",
        "verify_status",
        "restore_test_status",
    ):
        if info.get(key) not in (None, "", [], {}):
            typer.echo(f"{key:20} {info[key]}")
    raw, stored = info["raw_size"], info["stored_size"]
    ratio = raw / stored if stored else 0.0
    typer.echo(f"{'size':20} {_size(raw)} -> {_size(stored)} (x{ratio:.1f})")
    for art in info.get("artifacts", []):
        typer.echo(
            f"{'artifact ' + art['name']:20} {_size(art['raw_size'])}, {art['objects']} objects"
        )
    if info.get("metadata"):
        typer.echo("recorded (what a restore test compares):")
    for key, value in sorted(info.get("metadata", {}).items()):
        _echo_fact(key, value)


_FACTS_SHOWN = 20  # entries of one recorded fact (tables, files...) listed before "and N more"


def _echo_fact(key: str, value: Any) -> None:
    """One fact the backup recorded (and a restore test compares), as text."""
    if not isinstance(value, dict):
        typer.echo(f"{key:20} {value}")
        return
    typer.echo(f"{key:20} {len(value)} recorded")
    items = sorted(value.items())
    for name, sub in items[:_FACTS_SHOWN]:
        typer.echo(f"  {name:30} {sub}")
    if len(items) > _FACTS_SHOWN:
        typer.echo(f"  ... and {len(items) - _FACTS_SHOWN} more (--json shows all)")


def _print_verify(result: VerifyRead) -> None:
    """A verify's answer in text: warnings and problems on stderr, the rest on stdout."""
    for warning in result.warnings:
        typer.echo(f"warning: {warning}", err=True)
    for name, res in result.per_destination.items():
        how = ", ".join(res.authenticated_by or []) or "nothing"
        state_ = "ok" if res.ok else f"{len(res.problems)} problem(s)"
        typer.echo(f"{name}: {state_} (manifest authenticated by {how})")
    for problem in result.problems:
        typer.echo(f"problem: {problem}", err=True)
    test = result.restore_test
    if test is not None:
        for fact in test.compared or []:
            count = "" if fact.entries is None else f" ({fact.entries} recorded)"
            diff = fact.differences
            verdict = "same" if not diff else f"{diff} difference(s)"
            typer.echo(f"restore test compared {fact.what}{count}: {verdict}")
        for skipped in test.skipped or []:
            typer.echo(f"restore test: skipped {skipped}", err=True)
        for problem in test.problems:
            typer.echo(f"restore test: {problem}", err=True)
    if result.ok:
        extra = "" if test is None else f"; restore test ok in {test.seconds or 0.0:.1f}s"
        typer.echo(
            f"backup {result.id}: every object checked in {', '.join(result.destinations)}{extra}"
        )


@app.command("verify")
def verify(
    ctx: typer.Context,
    backup_id: Annotated[str, typer.Argument(help="A backup id.")],
    restore_test: Annotated[
        bool, typer.Option("--restore-test", help="Also restore into a scratch target and compare.")
    ] = False,
    identity: IdentityOption = None,
    from_: FromOption = None,
    manifest_key: ManifestKeyOption = None,
    trust_unauthenticated: TrustOption = False,
    wal: Annotated[
        bool,
        typer.Option(
            "--wal",
            help="A physical target's base backup: also re-read every archived WAL file of "
            "the target in every destination and name the WAL missing after this backup.",
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Authenticate the manifest, re-read every object at every destination and check its
    SHA-256 (reported per destination); with --restore-test, restore into a temporary
    database/file/directory (each object from the first destination with a good copy, or
    --from), compare with what the backup recorded (row counts, schema, checksums) and clean
    up; with --wal, check the target's WAL archive too. Exit 1 when anything is wrong."""
    st = state(ctx)
    checked = None
    with st.catalog() as catalog, _progress():
        backups = _backups(ctx, catalog, manifest_key, trust_unauthenticated)
        try:
            result = backups.verify(
                backup_id, restore=restore_test, identity=identity or [], from_destination=from_
            )
            if wal:
                from buttress.backup.wal.service import Wal
                from buttress.backup.wal.verify import verify_wal

                checked = verify_wal(Wal(backups.config, catalog), result.target, backup_id)
        finally:
            _warn(backups)
    if as_json:
        out = result.model_dump(mode="json", exclude_unset=True)
        if checked is not None:
            out["wal"] = checked.model_dump(mode="json")
        _echo_json(out)
    else:
        _print_verify(result)
        if checked is not None:
            for name, res in checked.per_destination.items():
                state_ = "ok" if res.ok else f"{len(res.problems)} problem(s)"
                typer.echo(f"{name}: WAL {state_} ({res.objects} archived files re-read)")
            for problem in checked.problems:
                typer.echo(f"problem: {problem}", err=True)
    if not result.ok or (checked is not None and not checked.ok):
        raise typer.Exit(1)


_PITR = "Restore to a point (kind: physical targets)"


@app.command("restore")
def restore(
    ctx: typer.Context,
    backup_id: Annotated[
        str,
        typer.Argument(
            metavar="BACKUP_ID|TARGET",
            help="A backup id; for a physical PostgreSQL target, the target's name (or one of "
            "its base backups' ids): a restore to a point.",
        ),
    ],
    to: Annotated[
        str | None,
        typer.Option(
            "--to",
            help="Where: a PostgreSQL/MariaDB DSN, a file (sqlite) or a directory; for a "
            "physical target, a NEW (or empty) data directory.",
        ),
    ] = None,
    target_time: Annotated[
        str | None,
        typer.Option(
            "--target-time",
            help="Recover up to this time, with its zone: '2026-12-02 14:35:00+00'.",
            rich_help_panel=_PITR,
        ),
    ] = None,
    target_lsn: Annotated[
        str | None,
        typer.Option(
            "--target-lsn",
            help="Recover up to this WAL location: 0/3000028.",
            rich_help_panel=_PITR,
        ),
    ] = None,
    target_xid: Annotated[
        str | None,
        typer.Option(
            "--target-xid", help="Recover up to this transaction id.", rich_help_panel=_PITR
        ),
    ] = None,
    target_name: Annotated[
        str | None,
        typer.Option(
            "--target-name",
            help="Recover up to this restore point (pg_create_restore_point).",
            rich_help_panel=_PITR,
        ),
    ] = None,
    immediate: Annotated[
        bool,
        typer.Option(
            "--immediate",
            help="Recover only to the end of the base backup (its earliest consistent point; "
            "needs no archived WAL).",
            rich_help_panel=_PITR,
        ),
    ] = False,
    exclusive: Annotated[
        bool,
        typer.Option(
            "--exclusive",
            help="Stop just before the target (default: just after it).",
            rich_help_panel=_PITR,
        ),
    ] = False,
    target_action: Annotated[
        str,
        typer.Option(
            "--target-action",
            help="At the target: promote (open for writes), pause (read-only; "
            "pg_wal_replay_resume() promotes) or shutdown.",
            rich_help_panel=_PITR,
        ),
    ] = "promote",
    port: Annotated[
        int | None,
        typer.Option(
            "--port",
            min=1,
            max=65535,
            help="The port the restored server listens on (default: a free one); written to "
            "its postgresql.auto.conf.",
            rich_help_panel=_PITR,
        ),
    ] = None,
    no_start: Annotated[
        bool,
        typer.Option(
            "--no-start",
            help="Only restore and write the recovery settings; start it yourself (pg_ctl).",
            rich_help_panel=_PITR,
        ),
    ] = False,
    backup: Annotated[
        str | None,
        typer.Option(
            "--backup",
            help="Start from this base backup (default: the newest that ends before the target).",
            rich_help_panel=_PITR,
        ),
    ] = None,
    database: Annotated[
        str | None,
        typer.Option(
            "--database",
            help="postgresql/mariadb/mongodb: a new database on the source's server.",
        ),
    ] = None,
    tables: Annotated[
        str | None,
        typer.Option(
            "--tables",
            help="postgresql/mariadb: only these tables; mongodb: collections (comma-separated).",
        ),
    ] = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Restore over a target that is not empty (refused from a backup whose last "
            "verify or restore test failed: see --force-damaged).",
        ),
    ] = False,
    force_damaged: Annotated[
        bool,
        typer.Option(
            "--force-damaged",
            help="Like --force, even from a backup whose last verify or restore test failed "
            "(every object is still checked before the target is touched).",
        ),
    ] = False,
    globals_: Annotated[
        bool,
        typer.Option(
            "--globals",
            help="postgresql: apply the backed-up roles and tablespaces (to --to's server, else "
            "the source's) instead of the data.",
        ),
    ] = False,
    jobs: Annotated[
        int | None,
        typer.Option(
            "--jobs",
            "-j",
            min=1,
            max=64,
            help="postgresql: pg_restore processes at once (default: the target's restore_jobs); "
            "tables load side by side as the backup streams, then indexes in parallel.",
        ),
    ] = None,
    identity: IdentityOption = None,
    from_: FromOption = None,
    manifest_key: ManifestKeyOption = None,
    trust_unauthenticated: TrustOption = False,
) -> None:
    """Restore a backup into a new place (never over existing data unless --force).

    Without --to or --database: a new database on the source's server, named after the backup
    (postgresql, mariadb, mongodb), or ./restored/TARGET/ID (directory, sqlite, redis).

    A physical PostgreSQL target restores to a point: `restore TARGET --to DIR --target-time
    '2026-12-02 14:35:00+00'` (or --target-lsn, --target-xid, --target-name, --immediate)
    picks the newest base backup that ends before the target (or --backup ID), untars it into
    the new data directory DIR, writes recovery.signal and the recovery settings (WAL fetched
    with `buttress wal fetch`), starts PostgreSQL on --port as the postgres OS user, waits
    until recovery reaches the target and promotes (or pauses, or shuts down), and reports
    the point reached. A target before the oldest base backup is refused before anything is
    read, with the recoverable window.

    A MariaDB target with `binlog:` restores to a time too: `restore TARGET --target-time T
    [--database NAME]` (as `buttress binlog restore`): the newest dump before T, then its
    archived binlogs replayed up to T, into a new database.

    Nothing is created or written before every object checks out against the manifest (each
    read from the first destination whose copy is good, or only --from; skipped copies are
    named) and the key opens the backup; a failed restore removes what it created and says
    what state the target is left in."""
    st = state(ctx)
    table_list = [t.strip() for t in tables.split(",") if t.strip()] if tables else None
    to_point = {
        "--target-time": target_time, "--target-lsn": target_lsn, "--target-xid": target_xid,
        "--target-name": target_name, "--immediate": immediate, "--exclusive": exclusive,
        "--target-action": target_action != "promote", "--port": port,
        "--no-start": no_start, "--backup": backup,
    }  # fmt: skip
    with st.catalog() as catalog, _progress():
        backups = _backups(ctx, catalog, manifest_key, trust_unauthenticated)
        physical = backups.physical_target(backup_id)
        if physical is not None:
            try:
                _restore_to_point(
                    st, backups, physical, backup_id,
                    to=to, target_time=target_time, target_lsn=target_lsn,
                    target_xid=target_xid, target_name=target_name, immediate=immediate,
                    exclusive=exclusive, target_action=target_action, port=port,
                    no_start=no_start, backup=backup, identity=identity or [], from_=from_,
                    others={"--database": database, "--tables": tables, "--force": force,
                            "--force-damaged": force_damaged, "--globals": globals_,
                            "--jobs": jobs},
                )  # fmt: skip
            finally:
                _warn(backups)
            return
        given = [name for name, value in to_point.items() if value not in (None, False)]
        binlog_target = _binlog_target(backups, backup_id)
        if binlog_target is not None and given == ["--target-time"] and target_time:
            from buttress.backup.binlog.cli import parse_time
            from buttress.backup.binlog.restore import restore_to_time

            if to is not None or tables or force or force_damaged or globals_ or jobs:
                from buttress.errors import UsageError

                raise UsageError(
                    f"a restore of mariadb target {backup_id} to a time goes into a new (or "
                    "empty) database on its server: give --database NAME, nothing else"
                )
            try:
                done = restore_to_time(
                    backups,
                    binlog_target,
                    parse_time(target_time),
                    database=database,
                    identity=identity or (),
                )
            finally:
                _warn(backups)
            typer.echo(f"restored {done}")
            return
        if given:
            from buttress.errors import UsageError

            raise UsageError(
                f"{', '.join(given)}: a restore to a point is for a physical PostgreSQL target "
                f"(kind: physical); {backup_id!r} is not one"
            )
        try:
            where = backups.restore(
                backup_id,
                to=to,
                database=database,
                tables=table_list,
                force=force,
                force_damaged=force_damaged,
                identity=identity or [],
                globals_only=globals_,
                jobs=jobs,
                from_destination=from_,
            )
        finally:
            _warn(backups)
    typer.echo(f"restored {backup_id} into {where}")


def _binlog_target(backups: Backups, name: str) -> str | None:
    """``name`` when it is a MariaDB target that archives its binlogs (a restore to a time)."""
    for target in backups.config.targets:
        if target.name == name and getattr(target, "binlog", None) is not None:
            return target.name
    return None


def _restore_to_point(
    st: Any,
    backups: Backups,
    target: str,
    named: str,
    *,
    to: str | None,
    target_time: str | None,
    target_lsn: str | None,
    target_xid: str | None,
    target_name: str | None,
    immediate: bool,
    exclusive: bool,
    target_action: str,
    port: int | None,
    no_start: bool,
    backup: str | None,
    identity: list[Path],
    from_: str | None,
    others: dict[str, Any],
) -> None:
    """``restore`` of a physical target: to a point, into a new data directory."""
    from buttress.backup.wal.recovery import RecoveryTarget, fetch_command, prefetch_spool
    from buttress.errors import UsageError

    given = [name for name, value in others.items() if value not in (None, False)]
    if given:
        raise UsageError(
            f"{', '.join(given)}: not for a physical target ({target} restores a whole cluster "
            "into a new data directory, to a point)"
        )
    if named != target:  # a base backup's id
        if backup is not None and backup != named:
            raise UsageError(f"{named} and --backup {backup}: name one base backup")
        backup = named
    if to is None:
        raise UsageError(
            f"--to DIR: a restore of physical target {target} goes into a new (or empty) data "
            "directory; name it"
        )
    recovery = RecoveryTarget.choose(
        time=target_time,
        lsn=target_lsn,
        xid=target_xid,
        name=target_name,
        immediate=immediate,
        inclusive=not exclusive,
        action=target_action,
    )
    config_file = st.config_file()
    if config_file is None:
        raise UsageError("a restore to a point needs the configuration file (--config)")
    spool = prefetch_spool(backups.target(target))
    command = fetch_command(sys.executable, Path(config_file), target, st.data_dir, spool)
    done = backups.restore_to_point(
        target,
        Path(to),
        recovery,
        restore_command=command,
        backup_id=backup,
        port=port,
        start=not no_start,
        identity=identity,
        from_destination=from_,
    )
    for line in done.lines():
        typer.echo(line)


@app.command("prune")
def prune(
    ctx: typer.Context,
    target: Annotated[str | None, typer.Option("--target", "-t", help="Only this target.")] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", "-n", help="Show what would be removed; change nothing.")
    ] = False,
    remove_orphans: Annotated[
        bool,
        typer.Option(
            "--remove-orphans",
            help="Also delete objects of backups the catalog does not know (reported otherwise).",
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Apply each target's `retention:` rules: show every backup kept or removed and why, and
    remove the others from every destination (manifest first).

    The newest backup and the newest verified backup are always kept; a target with no rule
    keeps everything. Leftovers of failed, abandoned and incomplete (killed) runs are removed,
    an incomplete run that stored nothing is marked abandoned, unfinished S3 uploads of dead
    runs are aborted, and objects the catalog does not know are reported. A target with
    archived WAL keeps the WAL its kept backups need, plus `pitr_within` (the newest backup
    older than the window is kept too, with all WAL after it); the rest goes, and each range is
    shown with why.
    Exit 1 when a destination could not be cleaned.
    """
    from buttress.backup.service import Backups

    st = state(ctx)
    with st.catalog() as catalog:
        report = Backups(st.config.backup, catalog).prune(
            target=target, dry_run=dry_run, remove_orphans=remove_orphans
        )
    if as_json:
        from buttress.backup.schemas import PruneRead

        _echo_json(PruneRead.model_validate(report).model_dump(mode="json"))
    else:
        verb = "would remove" if dry_run else "remove"
        verbs = {"remove": verb, "resolve": "would resolve" if dry_run else "resolve"}
        rows = []
        for item in report.items:
            action = verbs.get(item.action, "keep")
            if item.error:
                action += " (FAILED)"
            rows.append((item.id, item.target, item.status, action, ", ".join(item.reasons)))
        print_table(("id", "target", "status", "action", "why"), rows)
        for dest, ids in report.orphans.items():
            what = "removed" if report.orphans_removed else "left (use --remove-orphans)"
            typer.echo(f"orphans in {dest}: {', '.join(ids)} ({what})")
        for dest, keys in report.aborted_uploads.items():
            typer.echo(f"aborted {len(keys)} unfinished uploads in {dest}")
        for wal in report.wal:
            _echo_wal(wal, verb)
        removed = len(report.removed)
        typer.echo(
            f"{removed} backup{'s' if removed != 1 else ''} {verb}d"
            if not dry_run
            else f"{removed} would be removed (dry run: nothing changed)"
        )
        for error in report.errors:
            typer.echo(f"error: {error}", err=True)
    if report.errors:
        raise typer.Exit(1)


def _files(count: int) -> str:
    return f"{count} file{'s' if count != 1 else ''}"


def _echo_wal(wal: WalPrune, verb: str) -> None:
    """One line per WAL range of a target: what goes and why, what stays and why."""
    typer.echo(f"WAL of {wal.target}:")
    points = [r for r in wal.keep if r.rule == "backup"]  # one per daily/monthly... point
    for action, ranges in (
        (verb, wal.remove),
        ("keep", [r for r in wal.keep if r.rule != "backup"]),
    ):
        for r in ranges:
            span = r.first if r.count == 1 else f"{r.first}..{r.last}"
            typer.echo(f"  {action} {span} ({_files(r.count)}): {r.reason}")
    if points:
        typer.echo(
            f"  keep {_files(sum(r.count for r in points))} in {len(points)} "
            f"range{'s' if len(points) != 1 else ''}: each makes a kept backup consistent "
            "(its start..stop; --json lists them)"
        )
    for note in wal.notes:
        typer.echo(f"  note: {note}")
    if wal.error:
        typer.echo(f"  FAILED: {wal.error}")
    kept = sum(r.count for r in wal.keep)
    done = "removed" if verb == "remove" else "would be removed"
    typer.echo(f"  {wal.removed_files} WAL files {done}, {kept} kept")


@app.command("abandon")
def abandon(
    ctx: typer.Context,
    backup_id: Annotated[str, typer.Argument(help="A running or incomplete run's id.")],
    reason: Annotated[
        str, typer.Option("--reason", "-m", help="Why (recorded with the run and audited).")
    ] = "",
    force: Annotated[
        bool,
        typer.Option("--force", help="Abandon it even though its claim is live (it looks alive)."),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Mark a run that will never finish as abandoned: its target is free for the next run,
    and `prune` removes what it stored. Recorded with who and why, and audited.

    A run whose claim is live (its heartbeat is recent, or its process runs on this machine)
    is refused (exit 1) unless --force: a forced run that is in fact alive goes on, but its
    result is not recorded."""
    from buttress.backup.service import Backups

    st = state(ctx)
    with st.catalog() as catalog:
        view = Backups(st.config.backup, catalog).abandon(
            backup_id, actor=st.actor(), reason=reason, force=force
        )
    if as_json:
        _echo_json(view.read().model_dump(mode="json", exclude_unset=True))
        return
    was = view.detail.get("abandoned", {}).get("was", "running")
    typer.echo(f"abandoned backup {view.id} of {view.target} (it was {was})")


@app.command("copy")
def copy(
    ctx: typer.Context,
    backup_id: Annotated[str, typer.Argument(help="A backup id.")],
    destination: Annotated[
        str, typer.Argument(help="A destination name from backup.destinations.")
    ],
    from_: Annotated[
        str | None,
        typer.Option("--from", help="Copy from this destination (default: the first other one)."),
    ] = None,
    manifest_key: ManifestKeyOption = None,
    trust_unauthenticated: TrustOption = False,
    as_json: JsonOption = False,
) -> None:
    """Copy a backup into another destination: a new offsite copy, one that failed during the
    run, or a repair. Objects already there are hashed: good ones are skipped (so an
    interrupted copy resumes), damaged ones replaced; each copied object is checked against
    the manifest's SHA-256, and the manifest is written last."""
    st = state(ctx)
    with st.catalog() as catalog, _progress():
        backups = _backups(ctx, catalog, manifest_key, trust_unauthenticated)
        result = backups.copy(backup_id, destination, from_destination=from_)
        _warn(backups)
    if as_json:
        _echo_json(result.model_dump(mode="json"))
        return
    typer.echo(
        f"backup {backup_id}: {result.copied} objects copied ({_size(result.bytes)}), "
        f"{result.repaired} of them replacing damaged ones, {result.skipped} good "
        f"already in {destination}; copied from {result.from_}"
    )


@app.command("postgres-setup")
def postgres_setup(
    ctx: typer.Context,
    target: Annotated[str, typer.Argument(help="A `kind: physical` target with `wal:`.")],
    apply: Annotated[
        bool,
        typer.Option(
            "--apply",
            help="Set what differs with ALTER SYSTEM (a superuser DSN) and reload; settings "
            "that need a restart are named.",
        ),
    ] = False,
) -> None:
    """Print the PostgreSQL settings TARGET's WAL archiving needs (wal_level, archive_mode,
    archive_command, archive_timeout, max_wal_senders) beside the server's values; with
    --apply, set them.

    The archive_command runs as the server's OS user (postgres): that user must be able to
    read the configuration, the recipients and the manifest key, reach the destinations and
    write the catalog (docs/pitr.md).
    """
    from buttress.backup.wal import setup
    from buttress.backup.wal.service import Wal

    st = state(ctx)
    config_file = st.config_file()
    pg = Wal(st.config.backup, None).target(target)
    dsn = pg.dsn
    settings = setup.current(dsn, setup.wanted(pg, config_file))
    rows = [
        [s.name, s.value, s.now if s.now is not None else "?", "ok" if s.ok else "change"]
        for s in settings
    ]
    print_table(["setting", "wanted", "server", ""], rows, soft_wrap=True)
    if not apply:
        todo = [s for s in settings if not s.ok]
        if todo:
            typer.echo("\nin postgresql.conf (or run again with --apply):")
            for s in todo:
                typer.echo(f"{s.name} = '{s.value}'")
        return
    restart = setup.apply(dsn, settings)
    if restart:
        typer.echo(
            "applied and reloaded; a restart of the server is needed for: " + ", ".join(restart)
        )
    else:
        typer.echo("applied and reloaded")


@app.command("pitr-test")
def pitr_test_command(
    ctx: typer.Context,
    target: Annotated[str, typer.Argument(help="A `kind: physical` target with `wal:`.")],
    identity: IdentityOption = None,
    archive_timeout: Annotated[
        float,
        typer.Option(
            "--archive-timeout",
            min=1,
            help="Seconds to wait for the restore point's segment to be archived.",
        ),
    ] = 120.0,
    as_json: JsonOption = False,
) -> None:
    """Prove a point-in-time recovery of TARGET works, end to end: create a restore point on
    the source now (pg_create_restore_point: a superuser, or the grant), switch and archive
    its segment, restore the newest base backup into a scratch cluster recovering to that
    point through `wal fetch`, check it stopped there with the source's system identifier
    and databases, then remove it. Recorded as the base backup's restore test; exit 1 when
    it fails."""
    from buttress.backup.pitr_test import pitr_test
    from buttress.backup.wal.recovery import fetch_command, prefetch_spool
    from buttress.errors import UsageError

    st = state(ctx)
    config_file = st.config_file()
    if config_file is None:
        raise UsageError("a PITR test needs the configuration file (--config)")
    with st.catalog() as catalog, _progress():
        backups = _backups(ctx, catalog)
        spool = prefetch_spool(backups.target(target))
        command = fetch_command(sys.executable, Path(config_file), target, st.data_dir, spool)
        try:
            result = pitr_test(
                backups, target, command, identity=identity or (), archive_timeout=archive_timeout
            )
        finally:
            _warn(backups)
    if as_json:
        _echo_json({"target": result.target, "backup_id": result.backup_id, **result.record()})
    else:
        verdict = "ok" if result.ok else "FAILED"
        typer.echo(
            f"PITR test of {target} from base backup {result.backup_id} to restore point "
            f"{result.point} ({result.point_lsn}): {verdict} in {result.seconds:.1f}s "
            + "("
            + ", ".join(f"{k} {v:.1f}s" for k, v in result.phases.items())
            + ")"
        )
        if result.reached:
            typer.echo(f"reached: {result.reached}")
        for problem in result.problems:
            typer.echo(f"problem: {problem}", err=True)
    if not result.ok:
        raise typer.Exit(1)
