"""The asynchronous side of ``buttress wal`` (``wal.mode: async``, ``wal.prefetch``):
``wal push`` into the spool, ``wal pusher``, and ``wal fetch``'s prefetch. :mod:`.cli` mounts
the commands and dispatches to these on the target's settings."""

from __future__ import annotations

import json
import signal
import threading
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

import typer

from buttress.backup.wal.asynchronous import async_targets, build_pusher, target_spool
from buttress.backup.wal.names import DEFAULT_SEGMENT_SIZE, parse_name
from buttress.backup.wal.prefetch import prefetch, prefetch_lock, start_prefetch, take
from buttress.backup.wal.pusher import pusher_lock
from buttress.backup.wal.spool import Spool, Spooled
from buttress.errors import ButtressError, UsageError
from buttress.platform.cli import state

if TYPE_CHECKING:
    from buttress.backup.wal.service import Wal
    from buttress.catalog import Catalog
    from buttress.config import BackupConfig
    from buttress.config._backup import PostgresqlTargetConfig

__all__ = [
    "async_target",
    "fetch_prefetched",
    "prefetch_after",
    "push_spooled",
    "run_prefetch",
    "run_pusher",
]


def async_target(config: BackupConfig, name: str) -> PostgresqlTargetConfig | None:
    """Target ``name`` when it archives WAL in async mode (None otherwise: the synchronous
    push, which also names an unknown target). Reads nothing but the configuration, so that an
    async push stays cheap."""
    for target in async_targets(config):
        if target.name == name:
            return target
    return None


def _spool(target: PostgresqlTargetConfig, what: str) -> Spool:
    spool = target_spool(target)
    if spool is None:
        raise UsageError(f"target {target.name}: {what} needs wal.spool_dir in buttress.yaml")
    return spool


def push_spooled(target: PostgresqlTargetConfig, path: Path) -> Spooled:
    """``wal push`` in async mode: spool ``path`` durably (the acknowledgement); raises a
    ``SpoolError`` (nothing acknowledged) when it cannot."""
    return _spool(target, "wal.mode async").put(path)


def _wal(ctx: typer.Context, catalog: Catalog) -> Wal:
    from buttress.backup.wal.service import Wal

    return Wal(state(ctx).config.backup, catalog)


def run_pusher(
    ctx: typer.Context, target: PostgresqlTargetConfig, once: bool, as_json: bool
) -> None:
    """``buttress wal pusher TARGET [--once]``: push the target's spool (until stopped by
    SIGTERM/SIGINT, or with ``--once`` until it is empty; exit 1 when something stayed)."""
    if target.wal is None or target.wal.mode != "async":
        raise UsageError(f"target {target.name}: wal pusher needs wal.mode async")
    spool = _spool(target, "wal pusher")
    with state(ctx).catalog() as catalog:
        pusher = build_pusher(_wal(ctx, catalog), target)
        if not once:
            from buttress import logs

            logs.configure()  # a service: its log lines (redacted) on stderr
            stop = threading.Event()

            def _stop(_signum: int, _frame: FrameType | None) -> None:
                stop.set()

            signal.signal(signal.SIGTERM, _stop)
            signal.signal(signal.SIGINT, _stop)
            pusher.run(stop)
            return
        with pusher_lock(spool, wait=False):
            spool.clean_unfinished()
            batch = pusher.drain()
    files, size = spool.depth()
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "pushed": batch.pushed,
                    "failed": batch.failed,
                    "rejected": batch.rejected,
                    "queue": {"files": files, "bytes": size},
                },
                indent=2,
                sort_keys=True,
            )
        )
    else:
        typer.echo(f"pushed {len(batch.pushed)} file(s); {files} stay spooled ({size} bytes)")
        for name, why in {**batch.failed, **batch.rejected}.items():
            typer.echo(f"error: {name}: {why}", err=True)
    if batch.failed or batch.rejected:
        raise typer.Exit(1)


def fetch_prefetched(target: PostgresqlTargetConfig, name: str, out: Path) -> bool:
    """``wal fetch``: serve ``name`` from the prefetched segments, if it is there."""
    spool = target_spool(target)
    if spool is None or target.wal is None or target.wal.prefetch <= 0:
        return False
    return take(spool, name, out)


def prefetch_after(ctx: typer.Context, target: PostgresqlTargetConfig, name: str) -> None:
    """After a fetch of ``name``: start the background prefetch of the next segments (unless
    one runs, or prefetch is off). Never fails the fetch."""
    spool = target_spool(target)
    if spool is None or target.wal is None or target.wal.prefetch <= 0:
        return
    try:
        if not parse_name(name).is_segment:  # after a segment only, not a history file
            return
    except ValueError:
        return
    st = state(ctx)
    argv: list[str] = []
    config_file = st.config_file()
    if config_file is not None:
        argv += ["--config", str(config_file.absolute())]
    if st.data_dir is not None:
        argv += ["--data-dir", str(st.data_dir.absolute())]
    argv += ["wal", "fetch", "--prefetch", target.name, name]
    try:
        start_prefetch(spool, argv)
    except OSError as exc:
        typer.echo(f"warning: no prefetch after {name}: {exc}", err=True)


PREFETCH_FOLLOW = 10.0
"""Seconds a prefetch waits for recovery to take a segment before it exits."""


def run_prefetch(ctx: typer.Context, target: PostgresqlTargetConfig, name: str) -> None:
    """``wal fetch --prefetch TARGET NAME`` (started by :func:`prefetch_after`): download the
    segments after ``name`` into the spool; nothing when another prefetch runs. Reads the
    archive only (no catalog)."""
    from buttress.backup.wal.errors import WalMissingError
    from buttress.backup.wal.service import Wal

    spool = _spool(target, "wal fetch --prefetch")
    if target.wal is None or target.wal.prefetch <= 0:
        return
    with prefetch_lock(spool) as mine:
        if not mine:
            return
        try:
            archive = Wal(state(ctx).config.backup, None).archive(target.name, reading=True)
            info = archive.info()
            size = info.segment_size if info is not None else DEFAULT_SEGMENT_SIZE
            got = prefetch(
                spool,
                archive.fetch,
                name,
                target.wal.prefetch,
                (WalMissingError,),
                size,
                follow=PREFETCH_FOLLOW,
            )
        except ButtressError as exc:
            typer.echo(f"prefetch after {name}: {exc}", err=True)
            raise typer.Exit(1) from exc
    typer.echo(f"prefetched after {name}: {', '.join(got) or 'nothing new'}")
