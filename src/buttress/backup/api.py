"""``/api/v1/backups``: targets (and a physical target's WAL), runs, run now, verify, restore,
abandon, prune (viewer reads; operator runs, verifies, restores and abandons; admin prunes and
restores with ``force``).
Restores go only where :mod:`buttress.backup.restore_policy` allows. Every mutating call is
audited by the server."""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from buttress.backup.restore_policy import PATH_SOURCES, RestorePolicy, decide
from buttress.backup.schemas import (
    BackupRunRead,
    PruneRead,
    RestoreRead,
    RunDescribed,
    TargetSummary,
)
from buttress.backup.service import Backups
from buttress.backup.wal.schemas import WalStatusRead
from buttress.catalog.tokens import Role
from buttress.config import ButtressConfig
from buttress.errors import ButtressError, NotFoundError, UsageError
from buttress.platform.auth import Admin, Operator, Viewer
from buttress.platform.http import ApiError, errors

__all__ = ["router"]

log = logging.getLogger("buttress.backup")
router = APIRouter(prefix="/api/v1/backups", tags=["backups"])


class RunStarted(BaseModel):
    id: str
    target: str
    status: str = "running"


class VerifyRequest(BaseModel):
    restore_test: bool = Field(
        default=False, description="Also restore into a scratch target and compare."
    )
    from_destination: str | None = Field(
        default=None,
        description="The restore test reads only from this destination (default: each object "
        "from the first destination whose copy matches the manifest).",
    )


class RestoreRequest(BaseModel):
    to: str | None = Field(
        default=None,
        description="A DSN on the target's own server or one of backup.restore_servers "
        "(postgresql, mariadb, mongodb), or a path inside backup.restore_roots (directory, "
        "sqlite, redis; relative: inside the first root).",
    )
    database: str | None = Field(
        default=None,
        description="A new database on the target's server (postgresql, mariadb, mongodb): "
        "letters, digits, _ and -, at most 63 bytes.",
    )
    tables: list[str] | None = Field(default=None, description="Only these tables.")
    force: bool = Field(
        default=False,
        description="Restore over a target that is not empty (needs the admin role).",
    )
    force_damaged: bool = Field(
        default=False,
        description="Like force, even from a backup whose last verify or restore test failed "
        "(needs the admin role).",
    )
    jobs: int | None = Field(
        default=None,
        ge=1,
        le=64,
        description="postgresql: pg_restore processes at once (default: the target's "
        "restore_jobs); tables load side by side as the backup streams.",
    )
    from_destination: str | None = Field(
        default=None,
        description="Read only from this destination (default: each object from the first "
        "destination whose copy matches the manifest).",
    )


class AbandonRequest(BaseModel):
    reason: str = Field(default="", max_length=500, description="Why (kept with the run).")
    force: bool = Field(default=False, description="Abandon it although its claim is live.")


class PruneRequest(BaseModel):
    target: str | None = None
    dry_run: bool = True
    remove_orphans: bool = False


_FAILED = errors({502: "A destination, the source or a tool failed (backup_failed)"})


def _config(request: Request) -> ButtressConfig:
    config = getattr(request.app.state, "config", None)
    if not isinstance(config, ButtressConfig):
        raise TypeError("app.state.config is not a ButtressConfig: build the app with create_app")
    return config


def _backups(request: Request) -> Backups:
    return Backups(_config(request).backup, request.app.state.catalog)


def _next_runs(request: Request) -> dict[tuple[str, str], dt.datetime]:
    scheduler = getattr(request.app.state, "scheduler", None)
    if not scheduler:
        return {}
    return dict(scheduler.next_times())


@router.get(
    "/targets",
    response_model=list[TargetSummary],
    response_model_exclude_unset=True,
    summary="Every target: schedule, last run, newest good backup, sizes",
)
def targets(request: Request, _who: Viewer) -> list[TargetSummary]:
    return _backups(request).summaries(_next_runs(request))


@router.get(
    "/targets/{name}/wal",
    response_model=WalStatusRead,
    summary="A physical target's WAL archive: recoverable window, counts, gaps, archive lag, "
    "newest segment",
)
def wal_status(request: Request, name: str, _who: Viewer) -> WalStatusRead:
    from buttress.backup.wal.service import Wal
    from buttress.backup.wal.status import HistoryCache, status_of

    config = _config(request).backup
    if all(t.name != name for t in config.targets):
        raise NotFoundError("backup target", name)
    wal = Wal(config, request.app.state.catalog)
    target = wal.target(name)  # UsageError (400) for a target that does not archive WAL
    histories = getattr(request.app.state, "wal_histories", None)
    if not isinstance(histories, HistoryCache):
        histories = HistoryCache(wal)
    return status_of(target, request.app.state.catalog, histories=histories.reader(name))


@router.get(
    "/runs",
    response_model=list[BackupRunRead],
    response_model_exclude_unset=True,
    summary="Runs, newest first",
)
def runs(
    request: Request,
    _who: Viewer,
    target: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[BackupRunRead]:
    return [r.read() for r in _backups(request).runs(target, limit)]


@router.get(
    "/runs/{backup_id}",
    response_model=RunDescribed,
    response_model_exclude_unset=True,
    responses=_FAILED,
    summary="One run; for a good backup, its manifest summary",
)
def show(request: Request, backup_id: str, _who: Viewer) -> RunDescribed:
    return _backups(request).describe(backup_id)


@router.post(
    "/targets/{name}/run",
    name="backup.run",
    status_code=202,
    response_model=RunStarted,
    responses=_FAILED,
    summary="Back a target up now (in the background); 409 while it is already running",
)
def run_now(request: Request, name: str, _who: Operator) -> RunStarted:
    backups = _backups(request)
    if all(t.name != name for t in backups.config.targets):
        raise NotFoundError("backup target", name)
    backup_id = backups.start(name, trigger="api")

    def work() -> None:
        try:
            backups.run(name, backup_id, trigger="api")
        except ButtressError as exc:
            log.error("backup %s of %s failed: %s", backup_id, name, exc)
        except Exception:
            log.exception("backup %s of %s failed unexpectedly", backup_id, name)

    threading.Thread(target=work, name=f"buttress-backup-{name}", daemon=True).start()
    request.state.audit_target = f"target={name},backup_id={backup_id}"
    return RunStarted(id=backup_id, target=name)


@router.post(
    "/runs/{backup_id}/verify",
    name="backup.verify",
    status_code=202,
    response_model=RunStarted,
    responses=_FAILED,
    summary="Check every object, and with restore_test restore and compare (in the background; "
    "poll the run: detail.checking while it works, then detail.last_check)",
)
def verify(request: Request, backup_id: str, body: VerifyRequest, _who: Operator) -> RunStarted:
    request.state.audit_detail = {
        "restore_test": body.restore_test,
        "from": body.from_destination,
    }
    backups = _backups(request)
    restore, source = body.restore_test, body.from_destination
    # an unknown run or destination is answered now
    view, job = backups.start_check(backup_id, restore=restore, from_destination=source)

    def work() -> None:
        try:
            backups.check(backup_id, restore=restore, from_destination=source, job=job)
        except Exception:
            log.exception("verify of backup %s could not be recorded", backup_id)

    threading.Thread(target=work, name=f"buttress-verify-{backup_id}", daemon=True).start()
    return RunStarted(id=backup_id, target=view.target)


@router.post(
    "/runs/{backup_id}/restore",
    name="backup.restore",
    response_model=RestoreRead,
    responses=_FAILED,
    summary="Restore a backup, into the places the configuration allows (docs/server.md)",
)
def restore(request: Request, backup_id: str, body: RestoreRequest, who: Operator) -> RestoreRead:
    backups = _backups(request)
    request.state.audit_detail = {
        "force": body.force,
        "force_damaged": body.force_damaged,
        "tables": body.tables,
    }
    run = backups.get(backup_id)
    target = backups.target(run.target)
    try:
        placement = decide(
            _restore_policy(request),
            target,
            run.id,
            to=body.to,
            database=body.database,
            env=os.environ,
        )
    except UsageError as exc:
        request.state.audit_detail["refused"] = str(exc)  # the reason names no secret
        raise
    request.state.audit_detail["into"] = placement.shown
    if (body.force or body.force_damaged) and not who.role.allows(Role.ADMIN):
        raise ApiError(
            403,
            "forbidden",
            f"force (restoring over a target that is not empty) needs the 'admin' role through "
            f"the API; token {who.name!r} has {who.role.value!r}",
        )
    where = backups.restore(
        backup_id,
        to=placement.to,
        database=placement.database,
        tables=body.tables,
        force=body.force,
        force_damaged=body.force_damaged,
        jobs=body.jobs,
        from_destination=body.from_destination,
    )
    if placement.to is None or target.source in PATH_SOURCES:
        request.state.audit_detail["into"] = where
    # else the caller's DSN: the audit keeps the description without it (no password in it)
    return RestoreRead(id=backup_id, restored_into=where)


@router.post(
    "/runs/{backup_id}/abandon",
    name="backup.abandon",
    response_model=BackupRunRead,
    response_model_exclude_unset=True,
    responses=_FAILED,
    summary="Mark a run that will never finish as abandoned; 409 while it looks alive",
)
def abandon(request: Request, backup_id: str, body: AbandonRequest, who: Operator) -> BackupRunRead:
    request.state.audit_detail = {"reason": body.reason, "force": body.force}
    view = _backups(request).abandon(
        backup_id, actor=who.actor, reason=body.reason, force=body.force, audited=False
    )  # the middleware audits the request, whatever its outcome
    return view.read()


def _restore_policy(request: Request) -> RestorePolicy:
    config = _config(request)
    # `buttress serve` sets data_dir to the resolved data directory; an app built without one
    # uses the CLI's default, in the working directory at start
    return RestorePolicy.from_config(config.backup, config.data_dir or Path(".buttress"))


@router.post(
    "/prune",
    name="backup.prune",
    response_model=PruneRead,
    responses=_FAILED,
    summary="Apply retention (dry run by default)",
)
def prune(request: Request, body: PruneRequest, _who: Admin) -> PruneRead:
    report = _backups(request).prune(
        target=body.target, dry_run=body.dry_run, remove_orphans=body.remove_orphans
    )
    request.state.audit_detail = {"dry_run": body.dry_run, "removed": len(report.removed)}
    return PruneRead.model_validate(report)
