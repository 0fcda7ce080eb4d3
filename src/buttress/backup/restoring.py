"""A restore that destroys nothing before it knows the backup is good, and that leaves nothing
behind when it fails (docs/backup.md, "What a restore does to the target when it fails").

The order: what the target holds (a refusal reads nothing) -> the identities open the backup
-> every object checks out -> only then is the target created or written -> on failure, what
this restore created is removed, and the error says what state the target is left in.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from buttress.backup.engine import Sources, as_plan, check_identities
from buttress.backup.engine import restore as restore_backup
from buttress.backup.errors import BackupError, RestoreError
from buttress.backup.format import Manifest
from buttress.backup.restore_policy import PATH_SOURCES
from buttress.backup.sources.base import Source
from buttress.errors import UsageError
from buttress.secrets import mask_url, redact

__all__ = ["check_place", "check_tables", "refusal", "restore_safely"]

_SHOWN = 10  # names listed in a state message before "and N more"
DSN_SOURCES = frozenset({"postgresql", "mariadb", "mongodb"})
_NEEDS_EXISTING = frozenset({"postgresql"})  # mariadb and mongodb restores create the database


def check_place(kind: str, to: str) -> None:
    """Refuse (UsageError) a ``--to`` that is not the kind of place a ``kind`` backup restores
    into: a DSN for a database, a path for a file or directory."""
    if kind in DSN_SOURCES and "://" not in to and "=" not in to:  # URL or libpq key=value
        raise UsageError(
            f"--to {redact(to)!r}: a {kind} backup restores into a database: give a DSN "
            f"({kind}://user@host:port/database), or --database NAME for a new one on the "
            "source's server"
        )
    if kind in PATH_SOURCES and "://" in to:
        raise UsageError(
            f"--to {mask_url(to)!r}: a {kind} backup restores into a "
            f"{'file' if kind == 'sqlite' else 'directory'}: give a path, not a DSN"
        )


def check_tables(manifest: Manifest, tables: list[str] | None) -> None:
    """Refuse (UsageError) table names the backup does not have (per its recorded row counts;
    ``schema.table`` or ``table``), naming the ones it has."""
    counts = manifest.metadata.get("row_counts")
    if not tables or not isinstance(counts, dict):
        return
    names = set(counts)
    short = {k.split(".")[-1] for k in names}
    dotted = any("." in k for k in names)
    unknown = [
        t
        for t in tables
        if t not in names and t not in short and (dotted or t.split(".")[-1] not in names)
    ]
    if unknown:
        raise UsageError(
            f"--tables: backup {manifest.backup_id} of {manifest.target} has no table "
            f"{', '.join(unknown)}; it has: {_names(sorted(names))}"
        )


def refusal(
    *, holds: list[str] | None, force: bool, force_damaged: bool, last_check: str
) -> tuple[type[BackupError | UsageError], str] | None:
    """Why a restore into a target holding ``holds`` (None: it does not exist) must not start,
    as (error class, reason); None when it may. ``last_check`` is what failed in the backup's
    last check ("" when nothing did)."""
    if not holds:
        return None
    if not (force or force_damaged):
        return RestoreError, "restore into a new place, or pass --force to restore over it"
    if last_check and not force_damaged:
        return UsageError, (
            f"the backup's last {last_check}: it is not restored over a target that is not "
            "empty; restore it into a new place, or pass --force-damaged (API: force_damaged) to "
            "restore over it anyway (every object is still checked before the target is touched)"
        )
    return None


def _names(items: list[str]) -> str:
    if not items:
        return "none"
    more = f" and {len(items) - _SHOWN} more" if len(items) > _SHOWN else ""
    return ", ".join(items[:_SHOWN]) + more


def _partial(source: Source, to: str, manifest: Manifest, tables: list[str] | None) -> str:
    """What of the backup a target holds after a failed restore, compared with the manifest."""
    try:
        facts = source.inspect(to, tables)
    except Exception:  # noqa: BLE001  # the restore's own error matters more; say we cannot tell
        return "what it holds now could not be read"
    want, got = manifest.metadata.get("row_counts"), facts.get("row_counts")
    if isinstance(want, dict) and isinstance(got, dict):
        if tables:
            want = {k: v for k, v in want.items() if k in got or k.split(".")[-1] in tables}
        loaded = sorted(t for t in want if got.get(t) == want[t])
        other = sorted(t for t in want if got.get(t) != want[t])
        return (
            f"tables loaded: {_names(loaded)}; not restored (missing, or row count differs "
            f"from the backup): {_names(other)}"
        )
    files, present = manifest.metadata.get("files"), facts.get("files")
    if isinstance(files, dict) and isinstance(present, dict):
        done = sum(1 for k, v in files.items() if present.get(k) == v)
        return f"{done} of {len(files)} files restored"
    return "partly restored"


def _stated(exc: BackupError, state: str) -> BackupError:
    """``exc`` with the target's state at the end of its message (same class)."""
    message = f"{exc}; {state}"
    return RestoreError(message) if isinstance(exc, RestoreError) else type(exc)(message)


def restore_safely(
    manifest: Manifest,
    source: Source,
    sources: Sources,
    identities: Sequence[Any],
    to: str,
    *,
    create: str | None = None,
    force: bool = False,
    force_damaged: bool = False,
    tables: list[str] | None = None,
    last_check: str = "",
    notes: list[str] | None = None,
) -> str:
    """Restore ``manifest``'s backup into ``to`` (creating database ``create`` first when it
    does not exist); returns where it went. Every object is read from the first of ``sources``
    whose copy matches the manifest (the copies passed over are added to ``notes``).

    Raises:
        RestoreError: the target is not empty (without ``force``), or the restore failed; the
            message ends with the state the target is left in.
        UsageError: ``force`` over a non-empty target from a backup whose last check failed
            (``last_check``), without ``force_damaged``.
        CorruptBackupError: the identities do not open the backup or an object is damaged;
            nothing was created or written.
    """
    where = f"{source.kind} {mask_url(to)}"
    holds = source.contents(to)
    refused = refusal(holds=holds, force=force, force_damaged=force_damaged, last_check=last_check)
    if refused is not None:
        kind, why = refused
        raise kind(f"{where} is not empty ({', '.join(holds or [])}); {why}")
    if holds is None and create is None and source.kind in _NEEDS_EXISTING:
        raise RestoreError(
            f"{where}: the database does not exist; --to restores into an existing database "
            "(create it first, e.g. with createdb), or pass --database NAME to have a new one "
            "created on the source's server; nothing was created"
        )
    untouched = "nothing was created" if holds is None else "target untouched"
    try:
        if holds:
            source.preflight(to, force=force or force_damaged, tables=tables)
        plan = as_plan(manifest, sources)  # every object hashed, a good copy chosen for each
        if notes is not None:
            notes.extend(plan.skipped)
        check_identities(manifest, plan, identities)
        if create is not None and holds is None:
            to = source.create_database(create, new=True)
    except BackupError as exc:
        raise _stated(exc, untouched) from None
    try:
        return restore_backup(
            manifest, source, plan, identities, to, force=force or force_damaged,
            tables=tables,
        )  # fmt: skip
    except BackupError as exc:
        raise _stated(exc, _after_failure(exc, source, to, manifest, holds, tables)) from None


def _after_failure(
    exc: BackupError,
    source: Source,
    to: str,
    manifest: Manifest,
    holds: list[str] | None,
    tables: list[str] | None,
) -> str:
    """Clean up after a restore that failed once it had begun; the state it leaves, in words."""
    if holds is None:
        try:
            if source.contents(to) is None:
                return "nothing was created"
            source.remove(to)
        except Exception as problem:  # noqa: BLE001  # reported, with what to do by hand
            return (
                f"{mask_url(to)} was created for this restore but could not be removed "
                f"({problem}): remove it by hand"
            )
        return f"{mask_url(to)}, created for this restore, was removed: nothing left behind"
    if isinstance(exc, RestoreError) and exc.target_state:
        return f"target {exc.target_state}"
    partial = _partial(source, to, manifest, tables)
    if not holds:
        return f"the target was empty before and now holds a partial restore ({partial})"
    return f"the target was restored over in place and is left partly restored ({partial})"
