"""Backups as configured in buttress.yaml and recorded in the catalog: run a target, list,
show, verify, restore. The CLI, the API and the scheduler all go through here."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from buttress.backup.build import build_destination, build_source
from buttress.backup.destinations import Destination
from buttress.backup.engine import (
    copy_backup,
    load_manifest,
    restore_globals,
    restore_test,
    take_backup,
    verify,
)
from buttress.backup.errors import BackupBusyError, BackupError
from buttress.backup.events import BackupFinished, BackupVerified
from buttress.backup.format import Manifest
from buttress.backup.keys import load_identities, open_passphrase_key, parse_recipients
from buttress.backup.pipeline import Settings
from buttress.catalog.tables import BackupRun, utcnow
from buttress.errors import NotFoundError, UsageError
from buttress.events import emit
from buttress.secrets import redact

if TYPE_CHECKING:
    from buttress.backup.prune import PruneReport
    from buttress.catalog import Catalog
    from buttress.config import BackupConfig, BackupTarget

__all__ = ["Backups", "RunView"]


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

    @property
    def ratio(self) -> float:
        return self.raw_size / self.stored_size if self.stored_size else 0.0

    def as_dict(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in self.__dataclass_fields__}
        out["started_at"] = self.started_at.isoformat()
        out["finished_at"] = self.finished_at.isoformat() if self.finished_at else None
        out["compression_ratio"] = round(self.ratio, 2)
        return out


def _view(row: BackupRun) -> RunView:
    status = row.status
    if status == "running" and row.host == socket.gethostname() and not _alive(row.pid):
        status = "incomplete"  # its process is gone: killed or crashed mid-run
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
        row.error,
        row.verify_status,
        row.restore_test_status,
        dict(row.detail or {}),
    )


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Backups:
    """The configured targets and destinations, with the catalog that records their runs."""

    def __init__(self, config: BackupConfig, catalog: Catalog) -> None:
        self.config = config
        self.catalog = catalog

    def target(self, name: str) -> BackupTarget:
        for target in self.config.targets:
            if target.name == name:
                return target
        known = ", ".join(t.name for t in self.config.targets) or "none"
        raise UsageError(f"unknown backup target {name!r}; configured: {known}")

    def destinations(self, target: BackupTarget) -> list[Destination]:
        wanted = target.destinations or [d.name for d in self.config.destinations]
        found = [build_destination(d) for d in self.config.destinations if d.name in wanted]
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
        """The run of target ``name`` in progress right now, if any (its process alive)."""
        query = select(BackupRun).where(BackupRun.target == name, BackupRun.status == "running")
        with self.catalog.begin() as session:
            for row in session.scalars(query):
                view = _view(row)
                if view.status == "running":
                    return view
        return None

    def start(self, name: str, trigger: str = "cli") -> str:
        """Check that target ``name`` can run now and record its run as ``running``; returns
        the run's id (then call :meth:`run` with it).

        Raises:
            UsageError: unknown target, or a setting it needs is missing.
            BackupError: another run of the same target is in progress (never two at once).
        """
        from buttress.backup.format import new_backup_id

        target = self.target(name)
        self.settings(target)
        self.destinations(target)
        busy = self.running(name)
        if busy is not None:
            raise BackupBusyError(
                f"target {name} is already being backed up by run {busy.id} "
                f"(started {busy.started_at:%Y-%m-%d %H:%M:%S} UTC); never two at once"
            )
        backup_id = new_backup_id()
        with self.catalog.begin() as session:
            session.add(
                BackupRun(
                    id=backup_id,
                    target=name,
                    status="running",
                    started_at=utcnow(),
                    host=socket.gethostname(),
                    pid=os.getpid(),
                    raw_size=0,
                    stored_size=0,
                    destinations=[],
                    failed_destinations={},
                    manifest_sha256="",
                    error="",
                    verify_status="",
                    restore_test_status="",
                    detail={"trigger": trigger},
                )
            )
        return backup_id

    def run(self, name: str, backup_id: str | None = None, trigger: str = "cli") -> RunView:
        """Back up target ``name`` now (or carry out the run :meth:`start` recorded as
        ``backup_id``); the run is in the catalog whatever happens.

        Raises:
            BackupError: the backup failed (the run is recorded as failed, with the reason),
                or another run of the target is in progress.
        """
        backup_id = backup_id or self.start(name, trigger)
        target = self.target(name)
        started = time.monotonic()
        try:
            settings = self.settings(target)
            destinations = self.destinations(target)
            source = build_source(target)
            result = take_backup(source, name, destinations, settings, backup_id)
        except BaseException as exc:
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
        manifest = result.manifest
        self._finish(
            backup_id,
            status="succeeded",
            raw_size=manifest.raw_size,
            stored_size=manifest.stored_size,
            destinations=result.destinations_ok,
            failed_destinations=result.destinations_failed,
            manifest_sha256=hashlib.sha256(manifest.to_json()).hexdigest(),
            detail={"timings": manifest.timings, "source": manifest.source, "trigger": trigger},
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

    def _finish(self, backup_id: str, **values: Any) -> None:
        with self.catalog.begin() as session:
            row = session.get(BackupRun, backup_id)
            assert row is not None
            row.finished_at = utcnow()
            for key, value in values.items():
                setattr(row, key, value)

    def runs(self, target: str | None = None, limit: int = 100) -> list[RunView]:
        query = select(BackupRun).order_by(BackupRun.started_at.desc()).limit(limit)
        if target is not None:
            query = query.where(BackupRun.target == target)
        with self.catalog.begin() as session:
            return [_view(r) for r in session.scalars(query)]

    def get(self, backup_id: str) -> RunView:
        with self.catalog.begin() as session:
            row = session.get(BackupRun, backup_id)
            if row is None:
                raise NotFoundError("backup run", backup_id)
            return _view(row)

    def describe(self, backup_id: str) -> dict[str, Any]:
        """A run as the CLI and API show it; for a good backup, its manifest summary too."""
        view = self.get(backup_id)
        info = view.as_dict()
        if view.status == "succeeded":
            manifest, _ = self.manifest(view)
            info["artifacts"] = [
                {
                    "name": a.name,
                    "raw_size": a.raw_size,
                    "stored_size": a.stored_size,
                    "objects": len(a.objects),
                    "sha256": a.sha256,
                }
                for a in manifest.artifacts
            ]
            info["metadata"] = manifest.metadata
            info["encryption"] = manifest.encryption
        return info

    def manifest(
        self, run: RunView, destination: Destination | None = None
    ) -> tuple[Manifest, Destination]:
        """The manifest of a good run, from the first destination that has it."""
        if run.status != "succeeded":
            raise BackupError(f"backup {run.id} is {run.status}: there is nothing to read")
        target = self.target(run.target)
        candidates = [destination] if destination else self.destinations(target)
        problems = []
        for dest in candidates:
            if dest.name not in run.destinations:
                continue
            try:
                return load_manifest(dest, run.target, run.id), dest
            except BackupError as exc:
                problems.append(str(exc))
        why = "; ".join(problems) or "no destination holds it"
        raise BackupError(f"backup {run.id}: no readable manifest ({why})")

    def verify(
        self, backup_id: str, *, restore: bool = False, identity: Sequence[Path] = ()
    ) -> dict[str, Any]:
        """Check every object at every destination; with ``restore``, also a restore test.
        The result is recorded in the catalog."""
        run = self.get(backup_id)
        target = self.target(run.target)
        problems: list[str] = []
        checked: list[str] = []
        manifest: Manifest | None = None
        first: Destination | None = None
        for dest in self.destinations(target):
            if dest.name not in run.destinations:
                continue
            try:
                m = load_manifest(dest, run.target, run.id)
            except BackupError as exc:
                problems.append(str(exc))
                continue
            manifest, first = manifest or m, first or dest
            problems.extend(verify(m, dest))
            checked.append(dest.name)
        if run.status != "succeeded":
            problems.insert(0, f"backup {run.id} is {run.status}: it never completed")
        elif not checked:
            problems.append(f"backup {run.id}: no destination holds a readable copy")
        result: dict[str, Any] = {"id": run.id, "destinations": checked, "problems": problems}
        with self.catalog.begin() as session:
            row = session.get(BackupRun, run.id)
            assert row is not None
            row.verify_status = "ok" if checked and not problems else "failed"
            row.verified_at = utcnow()
        emit(BackupVerified(run.target, run.id, not problems and bool(checked), False,
                            tuple(problems)))  # fmt: skip
        if restore:
            if manifest is None or first is None:
                result["restore_test"] = {"ok": False, "problems": ["no readable copy"]}
            else:
                test = restore_test(
                    manifest, build_source(target), first, self.identities(manifest, identity)
                )
                result["restore_test"] = {
                    "ok": test.ok,
                    "seconds": test.seconds,
                    "problems": test.problems,
                }
                with self.catalog.begin() as session:
                    row = session.get(BackupRun, run.id)
                    assert row is not None
                    row.restore_test_status = "ok" if test.ok else "failed"
                    row.restore_tested_at = utcnow()
                    row.detail = {**(row.detail or {}), "restore_test": result["restore_test"]}
                emit(BackupVerified(run.target, run.id, test.ok, True, tuple(test.problems)))
        return result

    def copy(self, backup_id: str, destination: str) -> dict[str, Any]:
        """Copy a good backup into the configured destination ``destination`` (resumable:
        objects already there are skipped); the catalog then lists it there too."""
        run = self.get(backup_id)
        wanted = [d for d in self.config.destinations if d.name == destination]
        if not wanted:
            known = ", ".join(d.name for d in self.config.destinations) or "none"
            raise UsageError(f"unknown destination {destination!r}; configured: {known}")
        target_dest = build_destination(wanted[0])
        sources = [d for d in self.destinations(self.target(run.target)) if d.name != destination]
        manifest, source = None, None
        problems = []
        for candidate in sources:
            if candidate.name not in run.destinations:
                continue
            try:
                manifest, source = self.manifest(run, candidate)
                break
            except BackupError as exc:
                problems.append(str(exc))
        if manifest is None or source is None:
            raise BackupError(
                f"backup {backup_id}: no other destination holds a readable copy"
                + (f" ({'; '.join(problems)})" if problems else "")
            )
        result = copy_backup(manifest, source, target_dest)
        with self.catalog.begin() as session:
            row = session.get(BackupRun, run.id)
            assert row is not None
            row.destinations = sorted({*(row.destinations or []), destination})
            row.failed_destinations = {
                k: v for k, v in (row.failed_destinations or {}).items() if k != destination
            }
        return {
            "id": run.id,
            "from": source.name,
            "to": destination,
            "copied": result.copied,
            "skipped": result.skipped,
            "bytes": result.bytes,
        }

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
            return [d.name for d in self.destinations(target)]
        except UsageError:
            return []  # the summary shows none; running the target says why

    def all_runs(self, target: str) -> list[RunView]:
        """Every run of ``target`` (no limit), in no particular order."""
        query = select(BackupRun).where(BackupRun.target == target)
        with self.catalog.begin() as session:
            return [_view(r) for r in session.scalars(query)]

    def mark_pruned(self, backup_id: str, was: str, why: list[str]) -> None:
        """Record that a run's objects were removed (its row stays, as history)."""
        with self.catalog.begin() as session:
            row = session.get(BackupRun, backup_id)
            assert row is not None
            row.detail = {
                **(row.detail or {}),
                "pruned": {"at": utcnow().isoformat(), "was": was, "why": why},
            }
            row.status = "pruned"

    def summaries(
        self, next_runs: dict[tuple[str, str], dt.datetime] | None = None, history: int = 20
    ) -> list[dict[str, Any]]:
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
                {
                    "name": t.name,
                    "source": t.source,
                    "schedule": t.schedule,
                    "restore_test_schedule": t.restore_test_schedule,
                    "next_backup_at": _iso(nxt.get((t.name, "backup"))),
                    "next_restore_test_at": _iso(nxt.get((t.name, "restore_test"))),
                    "destinations": self._destination_names(t),
                    "running": any(r.status == "running" for r in runs),
                    "last_run": last.as_dict() if last else None,
                    "last_success": good[0].as_dict() if good else None,
                    "sizes": [
                        {
                            "id": r.id,
                            "at": r.started_at.isoformat(),
                            "stored": r.stored_size,
                            "raw": r.raw_size,
                        }
                        for r in reversed(good[:history])
                    ],
                    "failures_since_success": next(
                        (i for i, r in enumerate(runs) if r.status == "succeeded"), len(runs)
                    ),
                }
            )
        return out

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
    ) -> str:
        """Restore a backup (see ``buttress backup restore --help``); returns where it went.
        Nothing is created or written before the identities open the backup and every object
        checks out; a failed restore removes what it created (:mod:`~buttress.backup.restoring`).
        """
        from buttress.backup.restoring import restore_safely

        run = self.get(backup_id)
        target = self.target(run.target)
        if jobs is not None:
            if target.source != "postgresql":
                raise UsageError(
                    f"jobs (--jobs) applies to postgresql targets; {target.name!r} is a "
                    f"{target.source} target"
                )
            target = target.model_copy(update={"restore_jobs": jobs})
        source = build_source(target)
        manifest, dest = self.manifest(run)
        identities = self.identities(manifest, identity)  # a missing key: before anything
        if globals_only:
            where = to or getattr(source, "dsn", None)
            if where is None:
                raise UsageError("--globals needs --to DSN (a database on the server to apply to)")
            return restore_globals(manifest, source, dest, identities, where)
        database_dsn = getattr(source, "database_dsn", None)
        if database is None and to is None:
            # by default a new place, never the source: a database on the source's server,
            # or ./restored/TARGET/ID
            stamp = run.id.lower().replace("-", "_")
            if database_dsn is not None:
                short = run.target.replace("-", "_").replace(".", "_")[:30]  # names <= 63 bytes
                database = f"{short}_restore_{stamp}"
            else:
                folder = Path("restored") / run.target / run.id
                to = str(folder / "restored.db") if target.source == "sqlite" else str(folder)
        if database is not None:
            if database_dsn is None:
                raise UsageError(
                    "--database applies to postgresql, mariadb and mongodb targets; use --to"
                )
            to = str(database_dsn(database))
        assert to is not None
        return restore_safely(
            manifest,
            source,
            dest,
            identities,
            to,
            create=database,
            force=force,
            force_damaged=force_damaged,
            tables=tables,
            last_check=_failed_check(run),
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
