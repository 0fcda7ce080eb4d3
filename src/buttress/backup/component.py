"""The backup domain as a component: the ``backup`` section and ``buttress backup``/``buttress
binlog``; in the control plane the targets' schedules (jobs of the job runner), the binlog
pushers of the targets with ``binlog:`` (one per target across replicas), the backup metrics,
``/api/v1/backups`` and the answers to backup errors; its table is ``backup_runs``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from buttress.platform.component import (
    CliCommand,
    CliGroup,
    Component,
    Contribution,
    ServerContext,
)

if TYPE_CHECKING:
    from fastapi import Request
    from fastapi.responses import JSONResponse

    from buttress.backup.errors import BackupError
    from buttress.backup.wal.asynchronous import PusherThreads
    from buttress.catalog import Catalog
    from buttress.config import BackupConfig

__all__ = ["COMPONENT", "BackupComponent"]


class BackupComponent(Component):
    name = "backup"
    section = "backup"
    tables = "buttress.backup.tables"

    def cli(self) -> Sequence[CliGroup | CliCommand]:
        from buttress.backup.binlog.cli import app as binlog
        from buttress.backup.cli import app
        from buttress.backup.wal.cli import app as wal

        return [CliGroup("backup", app), CliGroup("wal", wal), CliGroup("binlog", binlog)]

    def serve(self, ctx: ServerContext) -> Contribution:
        from buttress import events
        from buttress.backup.api import router
        from buttress.backup.errors import BackupError
        from buttress.backup.events import BackupFinished, BackupVerified
        from buttress.backup.metrics import BackupMetrics
        from buttress.backup.scheduler import BackupScheduler
        from buttress.backup.service import Backups
        from buttress.jobs.component import JOB_RUNNER
        from buttress.jobs.runner import JobRunner

        config, catalog = ctx.config.backup, ctx.catalog
        state: dict[str, Any] = {}
        if any(getattr(t, "wal", None) is not None for t in config.targets):
            from buttress.backup.wal.service import Wal
            from buttress.backup.wal.status import HistoryCache

            # timeline history files, read once from the archive for the metrics, API, events
            state["wal_histories"] = HistoryCache(Wal(config, catalog))
        metrics = BackupMetrics(ctx.registry, config, catalog, state.get("wal_histories"))
        # the targets' schedules, as jobs of the runner (run once across replicas, by the leader)
        runner = ctx.require(JOB_RUNNER, JobRunner)
        scheduler = BackupScheduler(
            config, lambda: Backups(config, catalog), runner, pitr_command=_pitr_command(ctx)
        )
        if "wal_histories" in state:
            from buttress.backup.wal.metrics import watch_on

            # WalGapFound / WalArchiveStalled, on the leader
            watch_on(runner, config, catalog, state["wal_histories"])
        wal_pushers = _wal_pushers(config, catalog)

        @asynccontextmanager
        async def lifespan() -> AsyncIterator[None]:
            from buttress.backup.binlog.serving import BinlogPushers

            subs: list[events.Subscription[Any]] = [
                events.subscribe(BackupFinished, metrics),
                events.subscribe(BackupVerified, metrics),
            ]
            pushers = BinlogPushers(Backups(config, catalog))  # targets with `binlog:`
            pushers.start()
            if wal_pushers is not None:  # targets with `wal.mode: async`, spooled here
                wal_pushers.start()
            try:
                yield
            finally:
                await asyncio.to_thread(pushers.stop)
                for sub in subs:
                    events.unsubscribe(sub)
                if wal_pushers is not None:
                    await asyncio.to_thread(wal_pushers.close)

        return Contribution(
            routers=[router],
            lifespan=lifespan,
            exception_handlers={BackupError: _backup_error},
            state={"scheduler": scheduler, "wal_pushers": wal_pushers, **state},
            dashboard="/api/v1/backups",
        )


def _wal_pushers(config: BackupConfig, catalog: Catalog) -> PusherThreads | None:
    """The WAL pushers of the targets with ``wal.mode: async`` (whose spool is on this host)."""
    from buttress.backup.wal.asynchronous import PusherThreads, async_targets

    targets = async_targets(config)
    if not targets:
        return None
    from buttress.backup.wal.service import Wal

    return PusherThreads(Wal(config, catalog), targets)


async def _backup_error(_request: Request, exc: BackupError) -> JSONResponse:
    from buttress.backup.errors import BackupBusyError, CorruptBackupError, RestoreError
    from buttress.platform.http import error_response

    if isinstance(exc, BackupBusyError):
        return error_response(409, "conflict", str(exc))
    if isinstance(exc, CorruptBackupError):
        return error_response(422, "corrupt_backup", str(exc))
    if isinstance(exc, RestoreError):
        return error_response(409, "restore_refused", str(exc))
    return error_response(502, "backup_failed", str(exc))


COMPONENT = BackupComponent()


def _pitr_command(ctx: ServerContext) -> Callable[[str], str] | None:
    """The ``restore_command`` a scheduled PITR test of a target fetches its WAL with: this
    interpreter's ``buttress wal fetch`` with the control plane's configuration file and data
    directory (the manifest key's); None when the configuration was not read from a file."""
    file = ctx.config.file
    if file is None:
        return None
    import sys
    from pathlib import Path

    from buttress.backup.wal.recovery import fetch_command, prefetch_spool

    # the CLI sets manifest_key_file to <data dir>/manifest.key when the file names none: the
    # key's folder is then the data directory; a key the file names, `wal fetch` reads too
    key = ctx.config.backup.manifest_key_file
    data_dir: Path | None = key.parent if key is not None else None

    def command(target: str) -> str:
        found = next(t for t in ctx.config.backup.targets if t.name == target)
        return fetch_command(sys.executable, file, target, data_dir, prefetch_spool(found))

    return command
