"""Restoring a physical PostgreSQL target to a point (``buttress backup restore TARGET --to DIR
--target-time ...``): the base backup chosen for the target, a new data directory, the
recovery settings, the server started and watched until recovery reaches the target.

The order, as for every restore (:mod:`.restoring`): refusals first (a target before the
oldest base backup, a directory that is not new or empty, or one a server runs in) with
nothing read or written; then every object of the base backup hashed and the key checked;
only then is the directory written. A failure before the server starts removes what this
restore wrote; once the server has run, the directory is left for inspection (its log says
what happened) and the error says so.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import shutil
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from buttress.backup.engine import as_plan, check_identities
from buttress.backup.errors import BackupError, RestoreError
from buttress.backup.restoring import _stated
from buttress.backup.wal import postmaster
from buttress.backup.wal.recovery import (
    BaseBackup,
    RecoveryOutcome,
    RecoveryTarget,
    choose_base,
    when_text,
    write_recovery,
)
from buttress.errors import ButtressError, NotFoundError, UsageError

if TYPE_CHECKING:
    from buttress.backup.service import Backups
    from buttress.config import BackupTarget

__all__ = ["PhysicalRestore", "is_physical", "restore_to_point"]


@dataclass(frozen=True)
class PhysicalRestore:
    """What a restore to a point did."""

    backup_id: str
    target: str
    datadir: Path
    recovery: RecoveryTarget
    port: int
    started: bool
    outcome: RecoveryOutcome | None
    log: Path
    written_config: list[str]  # configuration files the backup lacked, written minimal

    def lines(self) -> list[str]:
        """The report, for the CLI."""
        out = [
            f"restored base backup {self.backup_id} of {self.target} into {self.datadir}",
            f"recovery target: {self.recovery.describe()}, then {self.recovery.action}",
        ]
        if self.written_config:
            out.append(
                f"the backup held no {', '.join(self.written_config)} (its server keeps its "
                "configuration elsewhere, e.g. /etc/postgresql): minimal ones were written; "
                "put your settings there"
            )
        if not self.started:
            out.append(
                f"not started (--no-start): as the postgres OS user, `pg_ctl -D {self.datadir} "
                f"-l {self.log} start`; it listens on port {self.port}, recovers to the target "
                f"and then does {self.recovery.action}"
            )
            return out
        outcome = self.outcome
        assert outcome is not None
        out.append(f"reached: {outcome.reached()}")
        if outcome.state == "promoted":
            out.append(f"promoted: the server runs on port {self.port} (log {self.log})")
        elif outcome.state == "paused":
            out.append(
                f"paused at the target, read-only, on port {self.port}: check it, then "
                "`SELECT pg_wal_replay_resume()` promotes it"
            )
        else:
            out.append(f"shut down at the target (--target-action shutdown); log {self.log}")
        out.append(
            "archive_mode is off in its postgresql.auto.conf, so that this copy never archives "
            "into the target's repository; turn it on if it becomes the primary"
        )
        return out


def is_physical(target: BackupTarget) -> bool:
    return getattr(target, "kind", None) == "physical"


def _bases(backups: Backups, target: str) -> list[BaseBackup]:
    """The target's good base backups, as the catalog records them."""
    found = []
    for run in backups.all_runs(target):
        facts = run.detail.get("physical")
        if run.status == "succeeded" and isinstance(facts, dict):
            with contextlib.suppress(KeyError, ValueError, TypeError):
                found.append(BaseBackup.from_facts(run.id, facts))
    return found


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _empty(path: Path) -> None:
    """Remove everything in ``path`` (a directory that was empty before this restore)."""
    for child in path.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)


def _check_reachable(
    backups: Backups, target: BackupTarget, at: dt.datetime, bases: Sequence[BaseBackup]
) -> None:
    """Refuse, before anything is restored, a target time the archive cannot reach: after
    the newest segment archived without a break, or inside a gap of the WAL (the window and
    its spans are shown). Without a catalog index of the WAL, nothing is refused here."""
    from buttress.backup.wal.service import Wal
    from buttress.backup.wal.status import HistoryCache, status_of

    if getattr(target, "wal", None) is None:
        newest = max(b.stop_time for b in bases)
        if at > newest:
            raise UsageError(
                f"target {target.name} archives no WAL (no `wal:`): a restore reaches the end of "
                f"a base backup at most, the newest ended {when_text(newest)}; "
                f"{when_text(at)} is after it"
            )
        return
    wal = Wal(backups.config, backups.catalog)
    try:
        histories = HistoryCache(wal).reader(target.name)
    except ButtressError:
        histories = None
    status = status_of(target, backups.catalog, histories=histories)  # type: ignore[arg-type]  # a physical target
    window = status.window
    if window.newest is None or window.oldest is None:
        return
    spans = "; ".join(f"{when_text(s.start)} to {when_text(s.end)}" for s in window.spans)
    if at > window.newest:
        raise UsageError(
            f"{when_text(at)} is after the newest archived WAL of target {target.name} (handed "
            f"over {when_text(window.newest)}): the recoverable window is {spans or 'empty'}"
        )
    if (
        window.spans
        and not any(s.start <= at <= s.end for s in window.spans)
        and at >= window.oldest
    ):
        raise UsageError(
            f"{when_text(at)} falls in a gap of target {target.name}'s archived WAL (segments are "
            f"missing: `buttress wal status {target.name}`); recoverable: {spans}"
        )


def restore_to_point(
    backups: Backups,
    target_name: str,
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
    """Restore ``target_name`` into the new data directory ``to`` and recover to ``recovery``
    (see the module's docstring).

    Raises:
        UsageError: not a physical target; no base backup fits the target (the recoverable
            window is shown).
        RestoreError: ``to`` is not new or empty, or a server runs in it; the restore or
            the recovery failed (the message says what is left).
        CorruptBackupError: an object is damaged or the key does not open the backup.
    """
    from buttress.backup.sources.pg_physical import PhysicalPostgresSource

    target = backups.target(target_name)
    if not is_physical(target):
        raise UsageError(
            f"target {target_name} is a {target.source} target of kind "
            f"{getattr(target, 'kind', 'logical')}: a restore to a point needs `kind: physical`"
        )
    bases = _bases(backups, target_name)
    if backup_id is not None and backup_id not in {b.id for b in bases}:
        bases += _uncatalogued(backups, target_name, backup_id)
    elif not bases:  # a catalog lost with the server: the repository still says what it holds
        bases = _in_repository(backups, target)
    base = choose_base(bases, recovery, backup_id)
    if recovery.at is not None and backup_id is None:
        _check_reachable(backups, target, recovery.at, bases)
    to = to.absolute()
    created = postmaster.new_datadir(to)
    started = False
    try:
        located = backups._locate(base.id)
        manifest, _ = backups._authentic(located)
        sources = backups._only(located, from_destination)
        identities = backups.identities(manifest, identity)
        plan = as_plan(manifest, sources)  # every object hashed, a good copy chosen for each
        backups.notes.extend(plan.skipped)
        check_identities(manifest, plan, identities)
        source = PhysicalPostgresSource(
            target.dsn,  # type: ignore[attr-defined]  # a postgresql target
            bin_dir=getattr(target, "bin_dir", None),
        )

        def read(name: str, out: object) -> int:
            from buttress.backup.pipeline import read_artifact

            return read_artifact(manifest, name, plan, identities, out)  # type: ignore[arg-type]

        source.unpack(read, to)
        configured = postmaster.ensure_config(to)
        port = port or _free_port()
        write_recovery(
            to,
            recovery,
            restore_command,
            {"port": str(port), "archive_mode": "off"},
            note=f"backup {base.id} of {target_name}, to {recovery.describe()}",
        )
        postmaster.give(to / "postgresql.auto.conf")
        postmaster.give(to / "recovery.signal")
        log = to / postmaster.LOG_NAME
        if not start:
            return PhysicalRestore(
                base.id, target_name, to, recovery, port, False, None, log, configured
            )
        server = postmaster.Server(
            to,
            postmaster.server_bin(getattr(target, "bin_dir", None)),
            {"lc_messages": "C", "logging_collector": "off"},
        )
        started = True
        server.start()
        outcome = server.wait()
    except BaseException as exc:
        if started:
            with contextlib.suppress(Exception):
                server.stop()
            if isinstance(exc, BackupError):
                raise _stated(exc, f"the data directory {to} is left for inspection") from None
            raise
        if created:
            shutil.rmtree(to, ignore_errors=True)
        elif to.is_dir():
            _empty(to)
        if isinstance(exc, BackupError):
            what = "removed" if created else "emptied again"
            raise _stated(exc, f"{to}, written by this restore, was {what}") from None
        raise
    if outcome.state == "failed":
        server.stop()
        said = f" (the restore_command said: {outcome.command_error})"
        raise RestoreError(
            f"recovery of {to} to {recovery.describe()} failed: {outcome.error}"
            + (said if outcome.command_error else "")
            + (f" (reached: {outcome.reached()})" if outcome.stopping or outcome.redo_done else "")
            + f". The server is stopped; the data directory is left for inspection (its log: "
            f"{server.log}); remove it before restoring into it again. A target past the "
            "newest archived WAL is not reached; the restore_command (run by the postgres OS "
            f"user) is: {restore_command}"
        )
    return PhysicalRestore(
        base.id, target_name, to, recovery, port, True, outcome, server.log, configured
    )


def _in_repository(backups: Backups, target: BackupTarget) -> list[BaseBackup]:
    """The base backups of ``target`` its destinations hold, each read from its manifest
    (authenticated with the manifest key), for a catalog that knows none: the catalog lost
    with the server, a new control plane. A backup whose manifest cannot be authenticated or
    read is left out, and said (``backups.notes``)."""
    from buttress.backup.prune import backup_ids

    ids: set[str] = set()
    for destination in backups.destinations(target, reading=True):
        try:
            ids |= backup_ids(destination, target.name)
        except BackupError as exc:
            backups.notes.append(f"{destination.name}: cannot list backups: {exc}")
    found = []
    for backup_id in sorted(ids):
        try:
            found += _uncatalogued(backups, target.name, backup_id)
        except (BackupError, UsageError) as exc:  # not physical, or not authentic
            backups.notes.append(f"backup {backup_id} left out: {exc}")
    return found


def _uncatalogued(backups: Backups, target: str, backup_id: str) -> list[BaseBackup]:
    """Base backup ``backup_id`` as its manifest records it (a catalog without it)."""
    try:
        located = backups._locate(backup_id)
    except NotFoundError:
        return []
    if located.target.name != target:
        raise UsageError(f"--backup {backup_id} is a backup of {located.target.name}, not {target}")
    manifest, _ = backups._authentic(located)
    facts = manifest.metadata.get("physical")
    if not isinstance(facts, dict):
        raise UsageError(f"--backup {backup_id} is not a physical base backup")
    return [BaseBackup.from_facts(backup_id, facts)]
