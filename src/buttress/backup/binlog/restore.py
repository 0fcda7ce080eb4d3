"""Restore a MariaDB/MySQL target to a point in time: the newest dump taken at or before it
(its binlog position recorded under the dump's read lock), then the archived binlogs replayed
from that position up to the time::

    mariadb-binlog --start-position=P --stop-datetime=T --database=DB --rewrite-db='DB->NEW' \\
        binlog.000007 binlog.000008 ... | mariadb NEW

Only the target's database is replayed (``--database``), into the new one (``--rewrite-db``).
With ``binlog_format=ROW`` that is every change to its tables. With STATEMENT or MIXED (MariaDB's
default) it is mariadb-binlog's rule for statements: those run with the target's database as
the default one (``USE db``); a statement run from another database that names the table
(``db.table``) is not replayed, one run from the target's database that names another
database's table is (onto that table, not rewritten). The pusher warns when the format is not
ROW. Replaying onto a server with ``gtid_strict_mode=ON`` fails (the binlogs' GTIDs are
older than the server's): restore onto another server, or turn it off for the restore.

Binlog event times have one-second resolution: what was logged in the second of T is not
replayed (T 14:35:00.7 replays up to 14:34:59).

Everything is checked before anything is created: the time lies in the recoverable window
(from the oldest dump with a recorded position to the last archived binlog event; refused
with the window shown otherwise), the binlog files from the dump's onward are all there and
consecutive, each is decrypted and matches its checksum, and every one but the last was
finished by the server.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import os
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from buttress.backup.binlog.archive import ArchivedFile, list_archived
from buttress.backup.binlog.pusher import binlog_tool, client_args, option_file
from buttress.backup.binlog.scan import scan
from buttress.backup.binlog.store import read_file
from buttress.backup.errors import BackupError, CorruptBackupError, RestoreError
from buttress.backup.keys import load_identities
from buttress.backup.sources.mariadb import MariadbSource, parse_dsn
from buttress.backup.wal.recovery import when_text
from buttress.errors import UsageError
from buttress.secrets import mask_url, redact

if TYPE_CHECKING:
    from buttress.backup.service import Backups, RunView
    from buttress.config import MariadbTargetConfig

__all__ = ["Dump", "Window", "recoverable_window", "restore_to_time"]


@dataclass(frozen=True)
class Dump:
    """A good dump of the target with its recorded binlog position."""

    backup_id: str
    file: str
    position: int
    at: dt.datetime  # the server's time when the position was read


@dataclass(frozen=True)
class Window:
    """From the oldest to the newest point a restore can reach (None: none)."""

    oldest: dt.datetime | None
    newest: dt.datetime | None
    dumps: list[Dump]
    archived: list[ArchivedFile]

    def describe(self) -> str:
        if self.oldest is None:
            return "no dump with a recorded binlog position"
        if self.newest is None:
            return f"from {when_text(self.oldest)}, but no binlog is archived after it"
        return f"{when_text(self.oldest)} to {when_text(self.newest)}"


def _mariadb_target(backups: Backups, name: str) -> MariadbTargetConfig:
    from buttress.config import MariadbTargetConfig

    target = backups.target(name)
    if not isinstance(target, MariadbTargetConfig):
        raise UsageError(
            f"target {name!r} is a {target.source} target: restoring to a time by binlog "
            "replay is for mariadb targets"
        )
    return target


def _dumps(backups: Backups, target: str) -> list[Dump]:
    """The target's good dumps that recorded a binlog position, oldest first."""
    found = []
    runs: list[RunView] = [r for r in backups.all_runs(target) if r.status == "succeeded"]
    for run in runs:
        try:
            manifest, _ = backups.manifest(run)
        except BackupError as exc:
            backups.notes.append(f"backup {run.id} left out: {exc}")
            continue
        pos = manifest.metadata.get("binlog")
        if not isinstance(pos, dict):
            continue
        at = dt.datetime.fromtimestamp(float(pos["time"]), dt.UTC)
        found.append(Dump(run.id, str(pos["file"]), int(pos["position"]), at))
    return sorted(found, key=lambda d: d.at)


def _identities(backups: Backups, identity: Sequence[Path]) -> list[Any]:
    paths = list(identity) or list(backups.config.identity_files)
    if not paths:
        raise UsageError(
            "no identity: pass --identity KEYFILE or set backup.identity_files (the private "
            "key that matches one of backup.recipients)"
        )
    return load_identities(paths)


def _fetch(file: ArchivedFile, folder: Path, identities: Sequence[Any]) -> Path:
    """``file`` into ``folder``, from the first destination whose copy is good
    (CorruptBackupError naming every copy's problem when none is)."""
    path = folder / file.name.name
    problems = []
    for dest in file.copies or (file.destination,):
        try:
            with open(path, "wb") as out:
                read_file(dest, file.key, file.sha256, identities, out)
            return path
        except CorruptBackupError as exc:
            problems.append(str(exc))
    path.unlink(missing_ok=True)
    raise CorruptBackupError(
        f"archived binlog {file.name.name}: no good copy ({'; '.join(problems)}); nothing was "
        "restored"
    )


def recoverable_window(
    backups: Backups, name: str, identity: Sequence[Path] = (), folder: Path | None = None
) -> Window:
    """The window of target ``name``: its oldest dump with a binlog position, and the time of
    the last event of the newest archived binlog (fetched, into ``folder`` if given)."""
    target = _mariadb_target(backups, name)
    dumps = _dumps(backups, name)
    archived = list_archived(name, backups.destinations(target, reading=True), backups.notes)
    if not dumps:
        return Window(None, None, dumps, archived)
    first = dumps[0]
    later = [a for a in archived if a.name.base == _base(first.file)]
    later = [a for a in later if a.name.number >= _number(first.file)]
    if not later:
        return Window(first.at, None, dumps, archived)
    with contextlib.ExitStack() as stack:
        where = folder or Path(stack.enter_context(tempfile.TemporaryDirectory()))
        facts = scan(_fetch(later[-1], where, _identities(backups, identity)))
    if facts.last_time is None:
        return Window(first.at, None, dumps, archived)
    newest = max(dt.datetime.fromtimestamp(facts.last_time, dt.UTC), first.at)
    return Window(first.at, newest, dumps, archived)


def _base(name: str) -> str:
    return name.rpartition(".")[0]


def _number(name: str) -> int:
    tail = name.rpartition(".")[2]
    return int(tail) if tail.isdigit() else -1


def restore_to_time(
    backups: Backups,
    name: str,
    when: dt.datetime,
    *,
    database: str | None = None,
    identity: Sequence[Path] = (),
) -> str:
    """Restore target ``name`` as it was at ``when`` into database ``database`` (new or empty;
    default ``<target>_pitr_<time>``) on the target's server; returns what was done.

    Raises:
        RestoreError: ``when`` is outside the recoverable window (shown), a binlog file is
            missing or unfinished, the database is not empty, or the replay failed (the
            database it created is then dropped).
    """
    if when.tzinfo is None:
        raise UsageError(f"--target-time {when.isoformat()}: give a time zone (e.g. +00)")
    target = _mariadb_target(backups, name)
    source = MariadbSource(target.dsn)
    original = source.params["database"]
    identities = _identities(backups, identity)
    with tempfile.TemporaryDirectory(prefix="buttress-pitr-") as tmp:
        folder = Path(tmp)
        window = recoverable_window(backups, name, identity, folder)
        if (
            window.oldest is None
            or window.newest is None
            or not (window.oldest <= when <= window.newest)
        ):
            raise RestoreError(
                f"target {name}: {when_text(when)} is outside the recoverable window "
                f"({window.describe()}); nothing was restored"
            )
        dump = [d for d in window.dumps if d.at <= when][-1]
        files = _files_after(name, dump, window.archived, when)
        paths = [folder / f.name.name for f in files]
        for f, path in zip(files, paths, strict=True):
            if not path.exists():
                _fetch(f, folder, identities)
        for path in paths[:-1]:
            if not scan(path).finished:
                raise RestoreError(
                    f"target {name}: archived binlog {path.name} is not whole (stored while "
                    "being written, never stored finished): the binlogs after it cannot be "
                    "replayed; nothing was restored"
                )
        stamp = when.astimezone(dt.UTC).strftime("%Y%m%d%H%M%S")
        database = database or f"{name.replace('-', '_').replace('.', '_')[:30]}_pitr_{stamp}"
        dsn = source.database_dsn(database)
        found = source.contents(dsn)
        if found:
            raise RestoreError(
                f"mariadb {mask_url(dsn)} is not empty ({', '.join(found)}); restore to a time "
                "goes into a new or empty database; nothing was restored"
            )
        restored = backups.restore(dump.backup_id, database=database, identity=identity)
        try:
            _replay(source, dsn, original, database, dump, paths, when)
        except BaseException:
            if found is None:
                with contextlib.suppress(BackupError):
                    source.remove(dsn)
            raise
    return (
        f"{restored}, then binlogs {paths[0].name}:{dump.position} to {paths[-1].name} "
        f"replayed up to {when_text(when)} (backup {dump.backup_id} of {when_text(dump.at)})"
    )


def _files_after(
    name: str, dump: Dump, archived: list[ArchivedFile], when: dt.datetime
) -> list[ArchivedFile]:
    """The archived files from the dump's on, each the one after the other (RestoreError at a
    gap or when the dump's own file is missing)."""
    mine = sorted(
        (
            a
            for a in archived
            if a.name.base == _base(dump.file) and a.name.number >= _number(dump.file)
        ),
        key=lambda a: a.name.number,
    )
    if not mine or mine[0].name.name != dump.file:
        raise RestoreError(
            f"target {name}: binlog {dump.file} (where backup {dump.backup_id} was taken) is "
            "not archived; nothing was restored"
        )
    for before, after in itertools.pairwise(mine):
        if not after.name.follows(before.name):
            raise RestoreError(
                f"target {name}: the binlog archive has a gap between {before.name.name} and "
                f"{after.name.name}: {when_text(when)} cannot be reached; nothing was restored"
            )
    return mine


def _replay(
    source: MariadbSource,
    dsn: str,
    original: str,
    database: str,
    dump: Dump,
    paths: list[Path],
    when: dt.datetime,
) -> None:
    """mariadb-binlog ... | mariadb DATABASE; RestoreError with either tool's message."""
    params = parse_dsn(dsn)
    stop = when.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
    env = {**os.environ, "TZ": "UTC"}  # --stop-datetime is read in the local time zone
    decode = [
        binlog_tool(),
        "--no-defaults",
        f"--start-position={dump.position}",
        f"--stop-datetime={stop}",
        f"--database={original}",
        *([f"--rewrite-db={original}->{database}"] if database != original else []),
        *(str(p) for p in paths),
    ]
    client = "mariadb" if _which("mariadb") else "mysql"
    with (
        option_file(params) as options,
        tempfile.TemporaryFile() as err1,
        tempfile.TemporaryFile() as err2,
    ):
        producer = subprocess.Popen(
            decode, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err1, env=env
        )
        consumer = subprocess.Popen(
            [*client_args(client, options, params), "--binary-mode", database],
            stdin=producer.stdout,
            stdout=subprocess.DEVNULL,
            stderr=err2,
        )
        if producer.stdout is not None:
            producer.stdout.close()
        rc2 = consumer.wait()
        rc1 = producer.wait()
        # the client first: when it stops at an SQL error, mariadb-binlog fails writing to it
        for rc, tool, err in ((rc2, client, err2), (rc1, decode[0], err1)):
            if rc != 0:
                err.seek(0)
                lines = [x for x in err.read().decode(errors="replace").splitlines() if x]
                detail = redact(" | ".join(lines[-3:])) or f"exit code {rc}"
                raise RestoreError(
                    f"replaying binlogs into mariadb {mask_url(dsn)}: {tool} failed: {detail}",
                    target_state="dropped (the database this restore created)",
                )


def _which(tool: str) -> bool:
    import shutil

    return shutil.which(tool) is not None
