"""Backups as configured in buttress.yaml and recorded in the catalog: run a target, list,
show, verify, restore. The CLI, the API and the scheduler all go through here."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import secrets
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from buttress.backup.authenticity import Trust, ensure_manifest_key, read_manifest_key
from buttress.backup.build import build_destination, build_source
from buttress.backup.destinations import Destination
from buttress.backup.engine import (
    copy_backup,
    plan_objects,
    read_manifest,
    restore_globals,
    restore_test,
    take_backup,
)
from buttress.backup.errors import BackupBusyError, BackupError
from buttress.backup.events import BackupFinished, BackupVerified
from buttress.backup.format import Manifest, is_backup_id, manifest_key
from buttress.backup.keys import load_identities, open_passphrase_key, parse_recipients
from buttress.backup.pipeline import Settings, verify_objects
from buttress.backup.plan import plan_from_problems
from buttress.backup.schemas import (
    ArtifactRead,
    BackupRunRead,
    Comparison,
    CopiedRead,
    CopyRead,
    DestinationCheck,
    EncryptionRead,
    LastCheckRead,
    RestoreTestRead,
    RunDescribed,
    RunDetail,
    SizePoint,
    TargetSummary,
    VerifyRead,
)
from buttress.backup.tables import BackupRun
from buttress.catalog import audit, claims
from buttress.catalog.tables import Claim, utcnow
from buttress.errors import ButtressError, ConfigError, NotFoundError, UsageError
from buttress.events import emit
from buttress.secrets import redact

if TYPE_CHECKING:
    from buttress.backup.physical_restore import PhysicalRestore
    from buttress.backup.prune import PruneReport
    from buttress.backup.wal.recovery import RecoveryTarget
    from buttress.catalog import Catalog
    from buttress.config import BackupConfig, BackupTarget

__all__ = ["DEFAULT_MANIFEST_KEY", "Backups", "RunView"]

# backup.manifest_key_file when unset (the CLI and `serve` put it in their data directory)
DEFAULT_MANIFEST_KEY = Path(".buttress") / "manifest.key"

log = logging.getLogger("buttress.backup")


@dataclass(frozen=True)
class RunView:
    """A catalog row, as the CLI and API show it."""

    id: str
    target: str
    status: str
    started_at: dt.datetime
    finished_at: dt.datetime | None
    raw_size: int
    stored_size: int
    destinations: list[str]
    failed_destinations: dict[str, str]
    error: str
    verify_status: str
    restore_test_status: str
    detail: dict[str, Any]
    heartbeat_at: dt.datetime | None = None  # a running run's last renewal of its claim

    @property
    def ratio(self) -> float:
        return self.raw_size / self.stored_size if self.stored_size else 0.0

    def read(self) -> BackupRunRead:
        """The run as the CLI and the API show it."""
        return BackupRunRead(
            id=self.id,
            target=self.target,
            status=self.status,
            started_at=self.started_at,
            finished_at=self.finished_at,
            raw_size=self.raw_size,
            stored_size=self.stored_size,
            destinations=self.destinations,
            failed_destinations=self.failed_destinations,
            error=self.error,
            verify_status=self.verify_status,
            restore_test_status=self.restore_test_status,
            detail=RunDetail.model_validate(self.detail),
            heartbeat_at=self.heartbeat_at,
            compression_ratio=round(self.ratio, 2),
        )


def _copies(run: BackupRunRead, artifacts: list[ArtifactRead]) -> list[CopyRead]:
    """Per destination of a run: what it holds (every object and the manifest, written last)
    or why it holds nothing, and its last check's answer (``None``: not checked)."""
    objects = sum(a.objects for a in artifacts) + 1 if artifacts else 0
    last = run.detail.last_check
    checked = (last.per_destination if last else None) or run.detail.verify or {}
    out = [
        CopyRead(
            destination=name,
            stored=True,
            objects=objects,
            stored_size=run.stored_size,
            error="",
            check=checked.get(name),
        )
        for name in run.destinations
    ]
    out += [
        CopyRead(
            destination=name,
            stored=False,
            objects=0,
            stored_size=0,
            error=redact(str(error)),
            check=None,
        )
        for name, error in run.failed_destinations.items()
    ]
    return out


def _claim_key(target: str) -> str:
    """What a run of ``target`` claims while it runs (one run per target at a time)."""
    return f"backup:{target}"


def _check_job(detail: dict[str, Any] | None) -> str | None:
    """The claim of the check a run's ``detail.checking`` records (None: no check, or one
    recorded by a version without claims)."""
    checking = (detail or {}).get("checking")
    job = checking.get("job") if isinstance(checking, dict) else None
    return job if isinstance(job, str) else None


def _interrupted(detail: dict[str, Any]) -> dict[str, Any]:
    """``detail`` of a run whose check's process is gone: no ``checking``, and a failed
    ``last_check`` that says so (the run's verify and restore-test statuses stay those of the
    last check that finished: an interrupted check says nothing about the backup)."""
    checking = detail.pop("checking")
    checking = checking if isinstance(checking, dict) else {}
    restore = bool(checking.get("restore_test"))
    started = str(checking.get("started_at") or "at an unknown time")
    what = "verify and restore test" if restore else "verify"
    last: dict[str, Any] = {
        "ok": False,
        "interrupted": True,
        "started_at": checking.get("started_at"),
        "problems": [
            f"the server stopped while checking ({what}, started {started}): the check never "
            "finished; start it again"
        ],
    }
    if restore:
        last["restore_test"] = {"ok": False, "problems": ["interrupted"]}
    return {**detail, "last_check": last}


def _view(
    row: BackupRun,
    claim: Claim | None,
    now: dt.datetime | None,
    check: Claim | None = None,
) -> RunView:
    status = row.status
    if status == "running" and (claim is None or now is None or claims.state(claim, now) != "live"):
        status = "incomplete"  # no live claim: killed, crashed, or its lease ran out
    detail = _scrubbed(row.detail)
    checking = "checking" in detail
    if checking and (check is None or now is None or claims.state(check, now) != "live"):
        detail = _interrupted(detail)  # the check's claim is dead: killed, crashed, restarted
    return RunView(
        row.id,
        row.target,
        status,
        row.started_at,
        row.finished_at,
        row.raw_size,
        row.stored_size,
        list(row.destinations or []),
        dict(row.failed_destinations or {}),
        redact(row.error or ""),  # rows written before DSNs were masked by libpq's grammar
        row.verify_status,
        row.restore_test_status,
        detail,
        claim.heartbeat_at if claim is not None and status == "running" else None,
    )


def _views(session: Session, rows: Sequence[BackupRun]) -> list[RunView]:
    """Views of ``rows``, a running one (and one being checked) judged by its claim (one
    query for all of them)."""
    running = [r.id for r in rows if r.status == "running"]
    checked = [r for r in rows if "checking" in (r.detail or {})]
    jobs = {r.id: job for r in checked if (job := _check_job(r.detail)) is not None}
    held = claims.held_by(session=session, holders=running + list(jobs.values()))
    now = claims.catalog_now(session) if running or checked else None
    stale = [r for r in checked if jobs.get(r.id) not in held]
    if stale:
        # as for runs below: a check that ended between the read of its row and the read of
        # the claims shows no claim; its row, read again, shows its result (or a newer check)
        for row in stale:
            session.refresh(row)
        newer = {r.id: job for r in stale if (job := _check_job(r.detail)) != jobs.get(r.id)}
        jobs.update({k: v for k, v in newer.items() if v is not None})
        held.update(claims.held_by(session=session, holders=[v for v in newer.values() if v]))
    unclaimed = [r for r in rows if r.status == "running" and r.id not in held]
    if unclaimed:
        # SQLite reads each SELECT apart: a run that ended between the read of its row and the
        # read of the claims shows no claim; its row, read again, shows how it ended (a run
        # ends and releases its claim in one transaction)
        ended = session.execute(
            select(BackupRun.id)
            .where(BackupRun.id.in_([r.id for r in unclaimed]))
            .where(BackupRun.status != "running")
        ).scalars()
        for backup_id in set(ended):
            session.refresh(next(r for r in unclaimed if r.id == backup_id))
    return [_view(r, held.get(r.id), now, held.get(jobs.get(r.id, ""))) for r in rows]


def _end_run(session: Session, backup_id: str, values: dict[str, Any]) -> bool:
    """Set ``values`` on a run that is still ``running`` (a write first, so SQLite takes its
    lock at once and nothing can end the run in between); whether it was."""
    done = session.execute(
        update(BackupRun)
        .where(BackupRun.id == backup_id, BackupRun.status == "running")
        .values(values)
        .returning(BackupRun.id)
        .execution_options(synchronize_session=False)
    )
    return done.first() is not None


def _run_to_change(session: Session, backup_id: str) -> BackupRun:
    """Run ``backup_id``'s row, locked for this transaction and read after the lock: a write
    first (SQLite takes its write lock, PostgreSQL the row's), so a change made to ``detail``
    by a check or run that ends meanwhile is not lost by writing over an older read.

    Raises:
        NotFoundError: the catalog has no run ``backup_id`` (any more).
    """
    session.execute(
        update(BackupRun)
        .where(BackupRun.id == backup_id)
        .values(id=BackupRun.id)
        .execution_options(synchronize_session=False)
    )
    row = session.get(BackupRun, backup_id, populate_existing=True)
    if row is None:
        raise NotFoundError("backup run", backup_id)
    return row


def _abandon(session: Session, view: RunView, actor: str, reason: str, *, forced: bool) -> bool:
    """Mark ``view``'s run abandoned and release its claim, if it is still ``running``."""
    now = utcnow()
    abandoned = {"at": now.isoformat(), "by": actor, "reason": reason, "was": view.status}
    ended = _end_run(
        session,
        view.id,
        {
            "status": "abandoned",
            "finished_at": now,
            "error": f"abandoned by {actor}" + (f": {reason}" if reason else ""),
            "detail": {**view.detail, "abandoned": {**abandoned, "forced": forced}},
        },
    )
    if ended:
        claims.release(session=session, key=_claim_key(view.target), holder=view.id)
    return ended


def _scrubbed(detail: dict[str, Any] | None) -> dict[str, Any]:
    """A run's detail without the connection string older versions recorded in it."""
    out = dict(detail or {})
    source = out.get("source")
    if isinstance(source, dict) and "describe" in source:
        out["source"] = {k: v for k, v in source.items() if k != "describe"}
    return out


@dataclass(frozen=True)
class _Located:
    """A backup asked for by id: its target, its catalog record (if any), where it lies, and
    what its manifest is authenticated against."""

    id: str
    target: BackupTarget
    run: RunView | None
    destinations: list[Destination]
    trust: Trust


class Backups:
    """The configured targets and destinations, with the catalog that records their runs.

    Args:
        manifest_key: the manifest key file to authenticate manifests with (default:
            ``backup.manifest_key_file``).
        trust_unauthenticated: use a manifest that neither the catalog nor a manifest key can
            authenticate (after a disaster, with the key lost), with a warning.
    """

    lease: float = claims.LEASE
    """Seconds a run's claim on its target stays live without a heartbeat."""
    heartbeat: float = claims.HEARTBEAT
    """Seconds between a running run's heartbeats."""

    def __init__(
        self,
        config: BackupConfig,
        catalog: Catalog,
        *,
        manifest_key: Path | None = None,
        trust_unauthenticated: bool = False,
    ) -> None:
        self.config = config
        self.catalog = catalog
        self.manifest_key = manifest_key
        self.trust_unauthenticated = trust_unauthenticated
        self.notes: list[str] = []  # warnings of the last calls (skipped copies, trust...)

    def manifest_key_path(self) -> Path:
        return self.manifest_key or self.config.manifest_key_file or DEFAULT_MANIFEST_KEY

    def reading_key(self) -> bytes | None:
        """The manifest key to check manifests with: one given must be readable; the
        configured or default one is used when it exists."""
        path = self.manifest_key_path()
        if self.manifest_key is None and not path.exists():
            return None
        return read_manifest_key(path)

    def target(self, name: str) -> BackupTarget:
        for target in self.config.targets:
            if target.name == name:
                return target
        known = ", ".join(t.name for t in self.config.targets) or "none"
        raise UsageError(f"unknown backup target {name!r}; configured: {known}")

    def destinations(self, target: BackupTarget, *, reading: bool = False) -> list[Destination]:
        """``target``'s destinations. ``reading``: one whose ``${VAR}`` is unset is left out
        (said in :attr:`notes`) while another remains; else it is an error (ConfigError)."""
        wanted = target.destinations or [d.name for d in self.config.destinations]
        configs = [d for d in self.config.destinations if d.name in wanted]
        usable = [d for d in configs if not d.unresolved]
        if reading and usable and len(usable) < len(configs):
            for d in configs:
                if d.unresolved:
                    unset = "; ".join(str(i) for i in d.unresolved)
                    note = f"destination {d.name} not used by this command: {unset}"
                    if note not in self.notes:
                        self.notes.append(note)
            configs = usable
        found = [build_destination(d) for d in configs]
        if not found:
            raise UsageError(f"target {target.name}: no destination (declare backup.destinations)")
        return found

    def passphrase(self) -> str | None:
        """``backup.passphrase``, else the first line of ``backup.passphrase_file``, else None."""
        if self.config.passphrase is not None:
            return self.config.passphrase.get_secret_value() or None
        if self.config.passphrase_file is not None:
            try:
                lines = self.config.passphrase_file.read_text().splitlines()
            except OSError as exc:
                raise UsageError(
                    f"backup.passphrase_file {self.config.passphrase_file}: {exc.strerror}"
                ) from None
            return lines[0] if lines and lines[0] else None
        return None

    def settings(self, target: BackupTarget) -> Settings:
        phrase = self.passphrase()
        if not self.config.recipients and not phrase:
            raise UsageError(
                "backup.recipients is empty and there is no backup.passphrase: every backup is "
                "encrypted; create a key with `buttress backup keygen KEYFILE` and list its "
                "public key there (or set a passphrase)"
            )
        return Settings(
            parse_recipients(self.config.recipients) if self.config.recipients else [],
            level=target.level,
            threads=target.threads,
            object_size=target.object_size_mb << 20,
            required=target.required,
            passphrase=phrase,
            manifest_key=ensure_manifest_key(self.manifest_key_path()),
        )

    def identities(self, manifest: Manifest, files: Sequence[Path] = ()) -> list[Any]:
        """What opens ``manifest``'s backup: the identity files (``files``, else
        ``backup.identity_files``) and, for a backup with a passphrase key, that key opened
        with the configured passphrase."""
        paths = list(files) or list(self.config.identity_files)
        found = load_identities(paths) if paths else []
        sealed = manifest.encryption.get("passphrase_identity")
        phrase = self.passphrase() if sealed else None
        if sealed and phrase:
            found.append(open_passphrase_key(sealed, phrase, f"backup {manifest.backup_id}"))
        if not found:
            raise UsageError(
                "no identity: pass --identity KEYFILE or set backup.identity_files (the private "
                "key that matches one of backup.recipients)"
                + (", or set backup.passphrase" if sealed else "")
            )
        return found

    # -- runs ----------------------------------------------------------------------------------

    def running(self, name: str) -> RunView | None:
        """The run of target ``name`` in progress right now, if any (its claim live)."""
        query = select(BackupRun).where(BackupRun.target == name, BackupRun.status == "running")
        with self.catalog.begin() as session:
            for view in _views(session, list(session.scalars(query))):
                if view.status == "running":
                    return view
        return None

    def start(self, name: str, trigger: str = "cli") -> str:
        """Claim target ``name`` and record its run as ``running``, in one transaction;
        returns the run's id (then call :meth:`run` with it). The claim is atomic in the
        catalog: of any number of callers racing (threads, processes, hosts), one wins. A
        dead claim (its process gone, or its lease expired) is taken over.

        Raises:
            UsageError: unknown target, or a setting it needs is missing.
            BackupBusyError: another run of the same target is in progress (never two at once).
        """
        from buttress.backup.format import new_backup_id

        target = self.target(name)
        self.settings(target)
        self.destinations(target)
        backup_id = new_backup_id()
        try:
            with self.catalog.begin() as session:
                claims.acquire(
                    session=session, key=_claim_key(name), holder=backup_id, lease=self.lease
                )
                session.add(
                    BackupRun(
                        id=backup_id,
                        target=name,
                        status="running",
                        started_at=utcnow(),
                        host=socket.gethostname(),
                        pid=os.getpid(),
                        detail={"trigger": trigger},
                    )
                )
        except claims.ClaimHeldError as exc:
            held = exc.claim
            raise BackupBusyError(
                f"target {name} is already being backed up by run {held.holder} (on {held.host}, "
                f"started {held.claimed_at:%Y-%m-%d %H:%M:%S} UTC, last heartbeat "
                f"{held.heartbeat_at:%H:%M:%S} UTC); never two at once"
            ) from None
        return backup_id

    def run(self, name: str, backup_id: str | None = None, trigger: str = "cli") -> RunView:
        """Back up target ``name`` now (or carry out the run :meth:`start` recorded as
        ``backup_id``); the run is in the catalog whatever happens. While it runs, a thread
        renews its claim on the target (its heartbeat).

        Raises:
            BackupError: the backup failed (the run is recorded as failed, with the reason),
                another run of the target is in progress, or the run was abandoned meanwhile.
        """
        backup_id = backup_id or self.start(name, trigger)
        target = self.target(name)
        started = time.monotonic()
        beat = claims.Heartbeat(
            self.catalog, _claim_key(name), backup_id, every=self.heartbeat, lease=self.lease
        ).start()
        try:
            settings = self.settings(target)
            destinations = self.destinations(target)
            source = build_source(target)
            result = take_backup(source, name, destinations, settings, backup_id)
        except BaseException as exc:
            beat.stop()
            message = str(exc) if isinstance(exc, BackupError) else f"{type(exc).__name__}: {exc}"
            message = redact(message)[:2000]
            self._finish(backup_id, status="failed", error=message)
            emit(
                BackupFinished(
                    name, backup_id, "failed", time.monotonic() - started, error=message,
                    trigger=trigger,
                )
            )  # fmt: skip
            raise
        beat.stop()
        manifest = result.manifest
        recorded = self._finish(
            backup_id,
            status="succeeded",
            raw_size=manifest.raw_size,
            stored_size=manifest.stored_size,
            destinations=result.destinations_ok,
            failed_destinations=result.destinations_failed,
            manifest_sha256=hashlib.sha256(manifest.to_json()).hexdigest(),
            detail={
                "timings": manifest.timings,
                "source": manifest.source,
                "trigger": trigger,
                # a physical base backup's LSNs, WAL and times (retention, PITR restores)
                **(
                    {"physical": manifest.metadata["physical"]}
                    if "physical" in manifest.metadata
                    else {}
                ),
            },
        )
        if not recorded:
            why = self.get(backup_id).error
            seconds = time.monotonic() - started
            emit(BackupFinished(name, backup_id, "failed", seconds, error=why, trigger=trigger))
            raise BackupError(
                f"backup {backup_id} of {name} was abandoned while it ran ({why}): its result "
                "is not recorded; `buttress backup prune` removes what it stored"
            )
        emit(
            BackupFinished(
                name,
                backup_id,
                "succeeded",
                time.monotonic() - started,
                raw_size=manifest.raw_size,
                stored_size=manifest.stored_size,
                trigger=trigger,
            )
        )
        return self.get(backup_id)

    def _finish(self, backup_id: str, **values: Any) -> bool:
        """Record how a run ended and release its claim; False (nothing recorded) when the run
        is no longer ``running`` (abandoned meanwhile)."""
        with self.catalog.begin() as session:
            recorded = _end_run(session, backup_id, {"finished_at": utcnow(), **values})
            target = session.scalar(select(BackupRun.target).where(BackupRun.id == backup_id))
            claims.release(session=session, key=_claim_key(str(target)), holder=backup_id)
        if not recorded:
            log.warning("backup %s ended, but it was abandoned meanwhile", backup_id)
        return recorded

    def abandon(
        self,
        backup_id: str,
        *,
        actor: str,
        reason: str = "",
        force: bool = False,
        audited: bool = True,
    ) -> RunView:
        """Mark a run that will never finish as ``abandoned`` (who, when, why), release its
        claim on the target and write an audit record, all in one transaction.

        Args:
            backup_id: a run that is ``running`` or ``incomplete``.
            actor: who abandons it (``cli:USER``), for the run's record and the audit log.
            reason: why, in the operator's words.
            force: abandon it even though it looks alive (a live claim).
            audited: write the audit record (the API's middleware writes its own).

        Raises:
            NotFoundError: no such run.
            UsageError: the run already ended.
            BackupBusyError: it is alive and ``force`` is not given (audited as denied).
        """
        reason = redact(reason.strip())[:500]
        view = self.get(backup_id)
        if view.status not in ("running", "incomplete"):
            raise UsageError(
                f"backup {backup_id} is {view.status}: only a running or incomplete run can be "
                "abandoned"
            )
        alive = view.status == "running"
        refused = alive and not force
        with self.catalog.begin() as session:
            ended = False
            if not refused:
                ended = _abandon(session, view, actor, reason, forced=alive)
            if audited:
                audit.record(
                    session=session,
                    actor=actor,
                    action="backup.abandon",
                    target=f"backup_id={backup_id}",
                    outcome="denied" if refused or not ended else "success",
                    detail={
                        "target": view.target,
                        "was": view.status,
                        "reason": reason,
                        "force": force,
                    },
                )
        if refused:
            beat = f", last heartbeat {view.heartbeat_at:%H:%M:%S} UTC" if view.heartbeat_at else ""
            raise BackupBusyError(
                f"backup {backup_id} of {view.target} is alive (its claim is live{beat}); "
                "abandon it with --force only if you know its process will not finish"
            )
        if not ended:
            raise UsageError(f"backup {backup_id} ended meanwhile: it is not abandoned")
        return self.get(backup_id)

    def runs(self, target: str | None = None, limit: int = 100) -> list[RunView]:
        query = select(BackupRun).order_by(BackupRun.started_at.desc()).limit(limit)
        if target is not None:
            query = query.where(BackupRun.target == target)
        with self.catalog.begin() as session:
            return _views(session, list(session.scalars(query)))

    def count_runs(self, target: str | None = None) -> int:
        """How many runs the catalog has (of ``target``)."""
        query = select(func.count()).select_from(BackupRun)
        if target is not None:
            query = query.where(BackupRun.target == target)
        with self.catalog.begin() as session:
            return int(session.scalar(query) or 0)

    def get(self, backup_id: str) -> RunView:
        with self.catalog.begin() as session:
            row = session.get(BackupRun, backup_id)
            if row is None:
                raise NotFoundError("backup run", backup_id)
            return _views(session, [row])[0]

    def describe(self, backup_id: str) -> RunDescribed:
        """A run as the CLI and API show it; for a good backup, its manifest summary too."""
        view = self.get(backup_id)
        run = view.read()
        info = RunDescribed(**dict(run), copies=[])
        if view.status == "succeeded":
            manifest, _ = self.manifest(view)
            info.artifacts = [
                ArtifactRead(
                    name=a.name,
                    raw_size=a.raw_size,
                    stored_size=a.stored_size,
                    objects=len(a.objects),
                    sha256=a.sha256,
                )
                for a in manifest.artifacts
            ]
            info.metadata = manifest.metadata
            info.encryption = EncryptionRead.model_validate(manifest.encryption)
        info.copies = _copies(run, info.artifacts or [])
        return info

    def _locate(self, backup_id: str) -> _Located:
        """Backup ``backup_id``: from the catalog's record, or (a catalog without it, e.g.
        after a disaster) from the configured destinations that hold its manifest."""
        try:
            run: RunView | None = self.get(backup_id)
        except NotFoundError:
            run = None
        sha: str | None = None
        if run is not None:
            target = self.target(run.target)
            found = [
                d for d in self.destinations(target, reading=True) if d.name in run.destinations
            ]
            with self.catalog.begin() as session:
                row = session.get(BackupRun, backup_id)
                sha = (row.manifest_sha256 if row is not None else "") or None
        else:
            if not is_backup_id(backup_id):
                raise NotFoundError("backup run", backup_id)
            target, found = self._search(backup_id)
        trust = Trust(backup_id, target.name, sha, self.reading_key(), self.trust_unauthenticated)
        return _Located(backup_id, target, run, found, trust)

    def _search(self, backup_id: str) -> tuple[BackupTarget, list[Destination]]:
        for target in self.config.targets:
            try:
                candidates = self.destinations(target, reading=True)
            except UsageError:
                continue
            holding = []
            for dest in candidates:
                try:
                    if dest.exists(manifest_key(target.name, backup_id)):
                        holding.append(dest)
                except BackupError:
                    continue
            if holding:
                return target, holding
        raise NotFoundError("backup run", backup_id)

    def _only(self, located: _Located, name: str | None) -> list[Destination]:
        """The destinations of ``located`` to read from: all, or only ``name`` (--from)."""
        if name is None:
            return located.destinations
        if name not in {d.name for d in self.config.destinations}:
            known = ", ".join(d.name for d in self.config.destinations) or "none"
            raise UsageError(f"unknown destination {name!r} (--from); configured: {known}")
        chosen = [d for d in located.destinations if d.name == name]
        if not chosen:
            raise BackupError(f"backup {located.id} is not in destination {name} (--from)")
        return chosen

    def _authentic(
        self, located: _Located, candidates: Sequence[Destination] | None = None
    ) -> tuple[Manifest, list[Destination]]:
        """The authentic manifest of ``located`` and the destinations whose manifest is it.

        Raises:
            BackupError: no destination holds an authentic manifest (each one's reason).
        """
        if located.run is not None and located.run.status != "succeeded":
            raise BackupError(
                f"backup {located.id} is {located.run.status}: there is nothing to read"
            )
        manifest: Manifest | None = None
        holders: list[Destination] = []
        problems = []
        for dest in located.destinations if candidates is None else candidates:
            try:
                verdict = read_manifest(dest, located.trust)
            except BackupError as exc:
                problems.append(str(exc))
                continue
            self.notes.extend(w for w in verdict.warnings if w not in self.notes)
            manifest = manifest or verdict.manifest
            holders.append(dest)
        if manifest is None:
            why = "; ".join(problems) or "no destination holds it"
            raise BackupError(f"backup {located.id}: no readable manifest ({why})")
        self.notes.extend(p for p in problems if p not in self.notes)
        return manifest, holders

    def manifest(
        self, run: RunView, destination: Destination | None = None
    ) -> tuple[Manifest, Destination]:
        """The authentic manifest of a good run, from the first destination that has it."""
        located = self._locate(run.id)
        manifest, holders = self._authentic(located, None if destination is None else [destination])
        return manifest, holders[0]

    def verify(
        self,
        backup_id: str,
        *,
        restore: bool = False,
        identity: Sequence[Path] = (),
        from_destination: str | None = None,
    ) -> VerifyRead:
        """Authenticate the manifest and check every object at every destination; with
        ``restore``, also a restore test (each object read from the first destination with a
        good copy, or only from ``from_destination``). The result, per destination too, is
        recorded in the catalog when it has the run."""
        located = self._locate(backup_id)
        run, target = located.run, located.target
        chosen = self._only(located, from_destination) if restore else []
        problems: list[str] = []
        checked: list[str] = []
        warnings: list[str] = []
        per: dict[str, DestinationCheck] = {}
        bad: dict[str, dict[str, str]] = {}
        manifest: Manifest | None = None
        for dest in located.destinations:
            try:
                verdict = read_manifest(dest, located.trust)
            except BackupError as exc:
                problems.append(str(exc))
                per[dest.name] = DestinationCheck(
                    ok=False, authenticated_by=[], problems=[str(exc)]
                )
                continue
            manifest = manifest or verdict.manifest
            warnings.extend(verdict.warnings)
            bad[dest.name] = {o.key: p for o, p in verify_objects(verdict.manifest, dest)}
            found = [f"{k} in {dest.describe()}: {p}" for k, p in bad[dest.name].items()]
            problems.extend(found)
            checked.append(dest.name)
            per[dest.name] = DestinationCheck(
                ok=not found, authenticated_by=list(verdict.authenticated_by), problems=found
            )
        if run is None:
            warnings.insert(0, f"the catalog has no record of backup {backup_id}")
        elif run.status != "succeeded":
            problems.insert(0, f"backup {run.id} is {run.status}: it never completed")
        if not checked and (run is None or run.status == "succeeded"):
            problems.append(f"backup {backup_id}: no destination holds a readable copy")
        ok = bool(checked) and not problems
        if run is not None:
            with self.catalog.begin() as session:
                row = _run_to_change(session, run.id)
                row.verify_status = "ok" if ok else "failed"
                row.verified_at = utcnow()
                row.detail = {
                    **(row.detail or {}),
                    "verify": {
                        name: {"ok": r.ok, "problems": r.problems[:20]} for name, r in per.items()
                    },
                }
        emit(BackupVerified(target.name, backup_id, ok, False, tuple(problems)))
        result = VerifyRead(
            id=backup_id,
            target=target.name,
            destinations=checked,
            problems=problems,
            per_destination=per,
            warnings=warnings,
        )
        if restore:  # set only then: absent (not null) from the answer without one
            result.restore_test = self._restore_test(located, manifest, chosen, bad, identity)
        return result

    def start_check(
        self, backup_id: str, *, restore: bool = False, from_destination: str | None = None
    ) -> tuple[RunView, str]:
        """Mark a verify of catalogued run ``backup_id`` as begun (``detail.checking``) for
        :meth:`check` to do in the background; returns the run and the check's ``job`` (pass it
        to :meth:`check`). What would refuse the check is refused now. The check is claimed in
        the catalog with the mark, so a check whose process dies (killed, crashed, restarted)
        reads as interrupted, as a run reads as incomplete.

        Raises:
            NotFoundError: the catalog has no run ``backup_id``.
            UsageError: ``from_destination`` is not one of the run's destinations.
        """
        located = self._locate(backup_id)
        if located.run is None:
            raise NotFoundError("backup run", backup_id)
        if restore:
            self._only(located, from_destination)
        job = f"verify:{backup_id}:{secrets.token_hex(4)}"
        with self.catalog.begin() as session:
            row = _run_to_change(session, backup_id)
            previous = _check_job(row.detail)
            held = claims.get(session=session, key=previous) if previous else None
            if held is not None and claims.state(held, claims.catalog_now(session)) != "live":
                # the interrupted check this one replaces: nothing else would ever remove it
                claims.release(session=session, key=held.key, holder=held.holder)
            claims.acquire(session=session, key=job, holder=job, lease=self.lease)
            checking = {"restore_test": restore, "started_at": utcnow().isoformat(), "job": job}
            row.detail = {**(row.detail or {}), "checking": checking}
        return self.get(backup_id), job

    def check(
        self,
        backup_id: str,
        *,
        restore: bool = False,
        from_destination: str | None = None,
        job: str | None = None,
    ) -> LastCheckRead:
        """:meth:`verify`, then the result in ``detail.last_check`` (what the API's verify
        answered when it waited; its lists cut to 20 entries) and ``detail.checking`` gone
        (unless a newer check started meanwhile), whatever happened; returns that result (its
        lists whole). While it works, a thread renews the claim ``job`` that
        :meth:`start_check` took."""
        raised = False
        beat = (
            claims.Heartbeat(self.catalog, job, job, every=self.heartbeat, lease=self.lease)
            if job is not None
            else None
        )
        try:
            if beat is not None:
                beat.start()
            verified = self.verify(backup_id, restore=restore, from_destination=from_destination)
        except Exception as exc:  # noqa: BLE001  # recorded: the caller is a background thread
            raised = True
            why = str(exc) if isinstance(exc, ButtressError) else "internal error"
            log.error("verify of backup %s failed: %s", backup_id, redact(str(exc)))
            result = LastCheckRead(
                id=backup_id, problems=[redact(why)[:2000]], per_destination={}, ok=False
            )
            if restore:
                result.restore_test = RestoreTestRead(ok=False, problems=["not run"])
        else:
            result = LastCheckRead.model_validate(
                {**verified.model_dump(exclude_unset=True), "ok": verified.ok}
            )
        finally:
            if beat is not None:
                beat.stop()
        with self.catalog.begin() as session:
            row = _run_to_change(session, backup_id)
            detail = dict(row.detail or {})
            if job is None or _check_job(detail) == job:  # else a newer check is under way
                detail.pop("checking", None)
            if job is not None:
                claims.release(session=session, key=job, holder=job)
            result.finished_at = utcnow().isoformat()
            last = result.model_dump(mode="json", exclude_unset=True)
            detail["last_check"] = {
                k: v[:20] if isinstance(v, list) else v for k, v in last.items()
            }
            row.detail = detail
            if raised:
                row.verify_status = "failed"
            if result.restore_test is not None and not result.restore_test.ok:
                row.restore_test_status = "failed"  # some refusals record nothing
        return result

    def _restore_test(
        self,
        located: _Located,
        manifest: Manifest | None,
        chosen: list[Destination],
        bad: dict[str, dict[str, str]],
        identity: Sequence[Path],
    ) -> RestoreTestRead:
        """The restore test of a verify, recorded in the catalog when it has the run."""
        # only destinations whose manifest authenticated have their objects checked in ``bad``
        order = [d for d in chosen if d.name in bad]
        if manifest is None or not order:
            return RestoreTestRead(ok=False, problems=["no readable copy"])
        try:
            plan = plan_from_problems(manifest, order, bad)
        except BackupError as exc:
            tested = RestoreTestRead(ok=False, seconds=0.0, problems=[str(exc)])
        else:
            test = restore_test(
                manifest,
                build_source(located.target),
                plan,
                self.identities(manifest, identity),
            )
            tested = RestoreTestRead(
                ok=test.ok,
                seconds=test.seconds,
                problems=test.problems,
                skipped=test.skipped,
                read_from=plan.used,
                compared=[Comparison.model_validate(c) for c in test.compared],
            )
        if located.run is not None:
            recorded = tested.model_dump(mode="json", exclude_unset=True)
            with self.catalog.begin() as session:
                row = _run_to_change(session, located.id)
                row.restore_test_status = "ok" if tested.ok else "failed"
                row.restore_tested_at = utcnow()
                row.detail = {**(row.detail or {}), "restore_test": recorded}
        emit(
            BackupVerified(located.target.name, located.id, tested.ok, True, tuple(tested.problems))
        )
        return tested

    def copy(
        self, backup_id: str, destination: str, *, from_destination: str | None = None
    ) -> CopiedRead:
        """Copy a good backup into the configured destination ``destination`` (from
        ``from_destination``, else the first other destination with an authentic manifest):
        objects already there are hashed, good ones skipped (resumable), damaged ones replaced
        (a repair); the catalog then lists it there too."""
        located = self._locate(backup_id)
        wanted = [d for d in self.config.destinations if d.name == destination]
        if not wanted:
            known = ", ".join(d.name for d in self.config.destinations) or "none"
            raise UsageError(f"unknown destination {destination!r}; configured: {known}")
        if from_destination == destination:
            raise UsageError(f"--from {destination}: copying a destination onto itself")
        target_dest = build_destination(wanted[0])
        sources = [d for d in self._only(located, from_destination) if d.name != destination]
        try:
            manifest, holders = self._authentic(located, sources)
        except BackupError as exc:
            raise BackupError(
                f"backup {backup_id}: no other destination holds a readable copy"
                + (f" ({exc})" if sources else "")
            ) from None
        source = holders[0]
        result = copy_backup(manifest, source, target_dest)
        if located.run is not None:
            with self.catalog.begin() as session:
                row = _run_to_change(session, backup_id)
                row.destinations = sorted({*(row.destinations or []), destination})
                row.failed_destinations = {
                    k: v for k, v in (row.failed_destinations or {}).items() if k != destination
                }
        return CopiedRead(
            id=backup_id,
            from_=source.name,
            to=destination,
            copied=result.copied,
            skipped=result.skipped,
            repaired=result.repaired,
            bytes=result.bytes,
        )

    def prune(
        self, *, target: str | None = None, dry_run: bool = False, remove_orphans: bool = False
    ) -> PruneReport:
        """Apply retention to every target (or one), remove failed and incomplete runs'
        leftovers, report orphaned objects (removed with ``remove_orphans``) and abort the
        unfinished uploads of dead runs. Nothing is changed with ``dry_run``."""
        from buttress.backup.prune import run_prune

        return run_prune(self, target=target, dry_run=dry_run, remove_orphans=remove_orphans)

    def _destination_names(self, target: BackupTarget) -> list[str]:
        try:
            return [d.name for d in self.destinations(target, reading=True)]
        except (UsageError, ConfigError):
            return []  # the summary shows none; running the target says why

    def all_runs(self, target: str) -> list[RunView]:
        """Every run of ``target`` (no limit), in no particular order."""
        query = select(BackupRun).where(BackupRun.target == target)
        with self.catalog.begin() as session:
            return _views(session, list(session.scalars(query)))

    def mark_pruned(self, backup_id: str, was: str, why: list[str]) -> None:
        """Record that a run's objects were removed (its row stays, as history)."""
        with self.catalog.begin() as session:
            row = _run_to_change(session, backup_id)
            claims.release(session=session, key=_claim_key(row.target), holder=backup_id)
            row.detail = {
                **(row.detail or {}),
                "pruned": {"at": utcnow().isoformat(), "was": was, "why": why},
            }
            row.status = "pruned"

    def resolve_incomplete(self, backup_id: str, why: str) -> bool:
        """Mark an incomplete run (``running``, its claim dead) that stored nothing as
        ``abandoned`` by prune; False when it is no longer incomplete (it ended, or came back)."""
        view = self.get(backup_id)
        if view.status != "incomplete":
            return False
        with self.catalog.begin() as session:
            return _abandon(session, view, "prune", why, forced=False)

    def summaries(
        self, next_runs: dict[tuple[str, str], dt.datetime] | None = None, history: int = 20
    ) -> list[TargetSummary]:
        """Per configured target: its settings, last run, newest good backup (with its check
        results), the stored sizes of the last ``history`` good backups (oldest first), and
        the next scheduled times when ``next_runs`` ((target, kind) -> time) gives them."""
        out = []
        for t in self.config.targets:
            runs = self.runs(t.name, limit=100)
            good = [r for r in runs if r.status == "succeeded"]
            last = runs[0] if runs else None
            nxt = next_runs or {}
            out.append(
                TargetSummary(
                    name=t.name,
                    source=t.source,
                    schedule=t.schedule,
                    restore_test_schedule=t.restore_test_schedule,
                    next_backup_at=nxt.get((t.name, "backup")),
                    next_restore_test_at=nxt.get((t.name, "restore_test")),
                    destinations=self._destination_names(t),
                    running=any(r.status == "running" for r in runs),
                    last_run=last.read() if last else None,
                    last_success=good[0].read() if good else None,
                    sizes=[
                        SizePoint(id=r.id, at=r.started_at, stored=r.stored_size, raw=r.raw_size)
                        for r in reversed(good[:history])
                    ],
                    failures_since_success=next(
                        (i for i, r in enumerate(runs) if r.status == "succeeded"), len(runs)
                    ),
                    archives_wal=getattr(t, "wal", None) is not None,
                )
            )
        return out

    def physical_target(self, name_or_id: str) -> str | None:
        """The physical PostgreSQL target that ``name_or_id`` names, or whose backup it is
        (None: neither). A restore of one goes to a point: :meth:`restore_to_point`."""
        from buttress.backup.physical_restore import is_physical

        for target in self.config.targets:
            if target.name == name_or_id:
                return target.name if is_physical(target) else None
        try:
            located = self._locate(name_or_id).target
        except (NotFoundError, UsageError):
            return None  # the ordinary restore says what is wrong with it
        return located.name if is_physical(located) else None

    def restore_to_point(
        self,
        target: str,
        to: Path,
        recovery: RecoveryTarget,
        *,
        restore_command: str,
        backup_id: str | None = None,
        port: int | None = None,
        start: bool = True,
        identity: Sequence[Path] = (),
        from_destination: str | None = None,
    ) -> PhysicalRestore:
        """Restore physical target ``target`` into the new data directory ``to`` and recover
        to ``recovery`` (:mod:`~buttress.backup.physical_restore`)."""
        from buttress.backup.physical_restore import restore_to_point

        return restore_to_point(
            self, target, to, recovery, restore_command=restore_command, backup_id=backup_id,
            port=port, start=start, identity=identity, from_destination=from_destination,
        )  # fmt: skip

    def restore(
        self,
        backup_id: str,
        *,
        to: str | None = None,
        database: str | None = None,
        tables: list[str] | None = None,
        force: bool = False,
        force_damaged: bool = False,
        identity: Sequence[Path] = (),
        globals_only: bool = False,
        jobs: int | None = None,
        from_destination: str | None = None,
    ) -> str:
        """Restore a backup (see ``buttress backup restore --help``); returns where it went.

        Nothing is created or written before every object is hashed (each read from the first
        destination with a good copy, only ``from_destination`` when given) and the identities
        open the backup; a failed restore removes what it created
        (:mod:`~buttress.backup.restoring`)."""
        from buttress.backup.restoring import check_place, check_tables, restore_safely

        located = self._locate(backup_id)
        target = located.target
        if getattr(target, "kind", None) == "physical":
            raise UsageError(
                f"backup {backup_id} is a physical base backup of {target.name}: it restores "
                "into a new data directory, to a point: `buttress backup restore "
                f"{target.name} --to DIR --immediate` (or --target-time...; --backup "
                f"{backup_id} picks it)"
            )
        if to is not None:
            check_place(target.source, to)
        if jobs is not None:
            if target.source != "postgresql":
                raise UsageError(
                    f"jobs (--jobs) applies to postgresql targets; {target.name!r} is a "
                    f"{target.source} target"
                )
            target = target.model_copy(update={"restore_jobs": jobs})
        source = build_source(target)
        manifest, _ = self._authentic(located)
        check_tables(manifest, tables)
        sources = self._only(located, from_destination)
        identities = self.identities(manifest, identity)  # a missing key: before anything
        if globals_only:
            where = to or source.dsn
            if where is None:
                raise UsageError("--globals needs --to DSN (a database on the server to apply to)")
            plan = plan_objects(manifest, sources, ["globals"])
            self.notes.extend(plan.skipped)
            return restore_globals(manifest, source, plan, identities, where)
        if database is None and to is None:
            # by default a new place, never the source: a database on the source's server,
            # or ./restored/TARGET/ID
            stamp = backup_id.lower().replace("-", "_")
            if source.has_databases:
                short = target.name.replace("-", "_").replace(".", "_")[:30]  # names <= 63 bytes
                database = f"{short}_restore_{stamp}"
            else:
                folder = Path("restored") / target.name / backup_id
                to = str(folder / "restored.db") if target.source == "sqlite" else str(folder)
        if database is not None:
            if not source.has_databases:
                raise UsageError(
                    "--database applies to postgresql, mariadb and mongodb targets; use --to"
                )
            to = source.database_dsn(database)
        if to is None:  # every branch above chose a place; say so if one ever does not
            raise UsageError(f"backup {backup_id}: no place to restore into (--to or --database)")
        return restore_safely(
            manifest,
            source,
            sources,
            identities,
            to,
            create=database,
            force=force,
            force_damaged=force_damaged,
            tables=tables,
            last_check=_failed_check(located.run) if located.run is not None else "",
            notes=self.notes,
        )


def _failed_check(run: RunView) -> str:
    """What failed in a run's last checks, as "verify failed" ("" when nothing did)."""
    failed = [
        what
        for what, status in (
            ("verify", run.verify_status),
            ("restore test", run.restore_test_status),
        )
        if status == "failed"
    ]
    return " and ".join(failed) + " failed" if failed else ""
