"""Taking, verifying and restoring one backup (no catalog here: see :mod:`buttress.backup.runs`)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, BinaryIO

from buttress._version import __version__
from buttress.backup.authenticity import Trust, Verdict, authenticate, seal
from buttress.backup.destinations import Destination
from buttress.backup.errors import BackupError, CorruptBackupError, RestoreError
from buttress.backup.format import Manifest, manifest_key, new_backup_id
from buttress.backup.keys import fingerprint, passphrase_key
from buttress.backup.pipeline import (
    Settings,
    check_object,
    drain,
    read_artifact,
    store_artifact,
    verify_objects,
)
from buttress.backup.plan import ObjectPlan, plan_objects
from buttress.backup.sources.base import Source

# where a restore reads from: one destination, several in order of preference (each object
# from the first whose copy matches the manifest), or a plan already made
Sources = Destination | Sequence[Destination] | ObjectPlan

__all__ = [
    "BackupResult",
    "CopyResult",
    "ObjectPlan",
    "Sources",
    "check_identities",
    "copy_backup",
    "load_manifest",
    "plan_objects",
    "read_manifest",
    "restore",
    "restore_globals",
    "restore_test",
    "take_backup",
    "verify",
]


@dataclass
class BackupResult:
    manifest: Manifest
    destinations_ok: list[str]
    destinations_failed: dict[str, str] = field(default_factory=dict)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def take_backup(
    source: Source,
    target: str,
    destinations: Sequence[Destination],
    settings: Settings,
    backup_id: str | None = None,
) -> BackupResult:
    """Dump every artifact of ``source`` through the pipeline into ``destinations``, then write
    the manifest (the commit point) to each destination that holds every object.

    Raises:
        BackupError: the source, a tool, or too many destinations failed; no manifest is
            written anywhere, so the run is never mistaken for a good backup.
    """
    if not destinations:
        raise BackupError(f"target {target}: no destination configured")
    encryption: dict[str, Any] = {
        "algorithm": "age",
        "recipients": [fingerprint(r) for r in settings.recipients],
    }
    if settings.passphrase:
        recipient, sealed = passphrase_key(settings.passphrase)
        settings = replace(settings, recipients=[*settings.recipients, recipient])
        encryption["passphrase_identity"] = sealed  # the key to it, sealed with the passphrase
    if not settings.recipients:
        raise BackupError(f"target {target}: no recipient and no passphrase to encrypt to")
    backup_id = backup_id or new_backup_id()
    started = _now()
    t0 = time.perf_counter()
    failed: dict[str, str] = {}
    artifacts = []
    timings: dict[str, float] = {}
    try:
        facts = source.check()
        for name in source.artifacts:
            t = time.perf_counter()
            with source.dump(name) as raw:
                artifacts.append(
                    store_artifact(
                        raw,
                        name,
                        target=target,
                        backup_id=backup_id,
                        destinations=destinations,
                        settings=settings,
                        failed=failed,
                    )
                )
            timings[name] = round(time.perf_counter() - t, 3)
        metadata = source.metadata()
    finally:
        source.close()
    timings["total"] = round(time.perf_counter() - t0, 3)
    manifest = Manifest(
        backup_id=backup_id,
        target=target,
        source={"kind": source.kind, **source.location(), **facts},  # no DSN, ever
        started_at=started,
        finished_at=_now(),
        compression={"algorithm": "zstd", "level": settings.level},
        encryption=encryption,
        artifacts=artifacts,
        metadata=metadata,
        timings=timings,
        buttress_version=__version__,
    )
    if settings.manifest_key is not None:
        manifest = seal(manifest, settings.manifest_key)
    data = manifest.to_json()
    ok = []
    for dest in destinations:
        if dest.name in failed:
            continue
        try:
            dest.put(manifest_key(target, backup_id), data)
            ok.append(dest.name)
        except BackupError as exc:
            failed[dest.name] = str(exc)
    required = len(destinations) if settings.required is None else settings.required
    if len(ok) < required:
        raise BackupError(
            f"target {target}: {len(ok)} of {len(destinations)} destinations hold the backup, "
            f"{required} required: " + "; ".join(f"{k}: {v}" for k, v in failed.items())
        )
    return BackupResult(manifest, ok, failed)


def _manifest_bytes(destination: Destination, target: str, backup_id: str) -> tuple[bytes, str]:
    key = manifest_key(target, backup_id)
    if not destination.exists(key):
        raise CorruptBackupError(
            f"backup {backup_id} has no manifest in destination {destination.describe()}: "
            "it never completed (or was removed)"
        )
    return destination.get(key), f"{destination.describe()}: {key}"


def load_manifest(
    destination: Destination, target: str, backup_id: str, trust: Trust | None = None
) -> Manifest:
    """The manifest of a backup in one destination; authenticated against ``trust`` when
    given (see :func:`read_manifest`), else only parsed.

    Raises:
        CorruptBackupError: there is none (an incomplete run), or it is damaged.
    """
    if trust is not None:
        return read_manifest(destination, trust).manifest
    data, where = _manifest_bytes(destination, target, backup_id)
    return Manifest.from_json(data, where)


def read_manifest(destination: Destination, trust: Trust) -> Verdict:
    """The authenticated manifest of backup ``trust.backup_id`` in one destination.

    Raises:
        ManifestAuthError: it is not authentic, or cannot be authenticated (named).
        CorruptBackupError: there is none, or it is not a manifest.
    """
    data, where = _manifest_bytes(destination, trust.target, trust.backup_id)
    return authenticate(data, where, trust)


def verify(manifest: Manifest, destination: Destination) -> list[str]:
    """Every object re-read and checked: the problems, one per bad object (empty: good)."""
    return [
        f"{obj.key} in {destination.describe()}: {problem}"
        for obj, problem in verify_objects(manifest, destination)
    ]


def as_plan(manifest: Manifest, sources: Sources) -> ObjectPlan:
    """``sources`` as a plan: made by :func:`plan_objects` (every object hashed) unless given."""
    if isinstance(sources, ObjectPlan):
        if sources.manifest is not manifest:
            raise ValueError("the plan was made for another manifest")
        return sources
    destinations = list(sources) if isinstance(sources, Sequence) else [sources]
    return plan_objects(manifest, destinations)


class _Opened(Exception):
    """The first decrypted bytes arrived: the identities open the backup."""


class _FirstBytes:
    def write(self, data: bytes) -> int:
        raise _Opened

    def flush(self) -> None:
        return None


def check_identities(manifest: Manifest, sources: Sources, identities: Sequence[Any]) -> None:
    """Decrypt the first bytes of the first artifact (about one 64 KiB age chunk is read).

    Raises:
        CorruptBackupError: the identities cannot decrypt it (or its first object is damaged;
            named as such).
    """
    if not manifest.artifacts:
        return
    try:
        source = sources if isinstance(sources, ObjectPlan) else as_plan(manifest, sources)
        first = manifest.artifacts[0].name
        read_artifact(manifest, first, source, identities, _FirstBytes())  # type: ignore[arg-type]
    except _Opened:
        return


def _reader(manifest: Manifest, plan: ObjectPlan, identities: Sequence[Any]) -> Any:
    def read(name: str, out: BinaryIO) -> int:
        return read_artifact(manifest, name, plan, identities, out)

    return read


def restore(
    manifest: Manifest,
    source: Source,
    destination: Sources,
    identities: Sequence[Any],
    to: str,
    *,
    force: bool = False,
    tables: list[str] | None = None,
) -> str:
    """Restore a backup into ``to``; returns where it went.

    Every object's SHA-256 is checked (:func:`plan_objects`, unless a plan is given) before
    the first byte reaches ``source.restore``, so a damaged backup fails before the target is
    touched; each object is read from the first destination with a good copy.

    Raises:
        CorruptBackupError: some object has no good copy (named; nothing was restored).
    """
    plan = as_plan(manifest, destination)
    return source.restore(_reader(manifest, plan, identities), to, force=force, tables=tables)


def restore_globals(
    manifest: Manifest, source: Source, destination: Sources, identities: Sequence[Any], to: str
) -> str:
    """Apply a PostgreSQL backup's roles and tablespaces to the server of ``to``."""
    if not source.has_globals or "globals" not in [a.name for a in manifest.artifacts]:
        raise RestoreError(f"backup {manifest.backup_id} holds no globals (roles, tablespaces)")
    return source.restore_globals(_reader(manifest, as_plan(manifest, destination), identities), to)


@dataclass
class RestoreTest:
    ok: bool
    seconds: float
    problems: list[str]
    skipped: list[str] = field(default_factory=list)  # damaged copies read from elsewhere
    compared: list[dict[str, Any]] = field(default_factory=list)  # see :func:`comparisons`


def comparisons(recorded: dict[str, Any], problems: list[str]) -> list[dict[str, Any]]:
    """What a restore test compared, one entry per recorded fact: ``what`` (``row_counts``...),
    ``entries`` (how many tables, files... it holds; None for a single value) and
    ``differences`` (the problems about it, which a source's compare starts with its name)."""
    out = []
    for key in sorted(recorded):
        value = recorded[key]
        bad = sum(1 for p in problems if p.startswith((f"{key}[", f"{key}:")))
        entries = len(value) if isinstance(value, dict | list) else None
        out.append({"what": key, "entries": entries, "differences": bad})
    return out


def restore_test(
    manifest: Manifest, source: Source, destination: Sources, identities: Sequence[Any]
) -> RestoreTest:
    """Restore into a scratch target, compare with what the backup recorded, clean up (each
    object from the first destination with a good copy, as :func:`restore` does)."""
    started = time.perf_counter()
    try:
        plan = as_plan(manifest, destination)
    except CorruptBackupError as exc:
        return RestoreTest(False, round(time.perf_counter() - started, 3), [str(exc)])
    compared: list[dict[str, Any]] = []
    with source.scratch() as where:
        try:
            source.restore(_reader(manifest, plan, identities), where)
            problems = source.compare(manifest.metadata, source.inspect(where))
            compared = comparisons(source.compared(manifest.metadata), problems)
        except BackupError as exc:
            problems = [str(exc)]
    seconds = round(time.perf_counter() - started, 3)
    return RestoreTest(not problems, seconds, problems, list(plan.skipped), compared)


@dataclass
class CopyResult:
    copied: int
    skipped: int
    bytes: int
    repaired: int = 0  # objects that were in ``target`` but damaged, replaced


def copy_backup(manifest: Manifest, source: Destination, target: Destination) -> CopyResult:
    """Put every object of a backup into ``target``, each checked against the manifest's
    SHA-256 as it is copied; then the manifest, last. An object already in ``target`` is
    hashed: a good one is skipped (so an interrupted copy resumes), a damaged one replaced
    (so a copy repairs a destination).

    Raises:
        CorruptBackupError: an object in ``source`` does not match the manifest (nothing is
            written under its name in ``target``).
        BackupError: either destination failed (what was copied stays: run it again).
    """
    from buttress.backup import progress

    progress.start(f"copying to {target.name}", manifest.stored_size)
    copied = skipped = moved = repaired = 0
    for artifact in manifest.artifacts:
        for obj in artifact.objects:
            there = target.size(obj.key)
            if there is not None:
                if there == obj.size and not check_object(obj, target):
                    skipped += 1
                    continue
                repaired += 1
            reader = source.reader(obj.key)
            writer = target.writer(obj.key)
            try:
                size, digest = drain(reader, writer)
                if size != obj.size or digest != obj.sha256:
                    raise CorruptBackupError(
                        f"{obj.key} in {source.describe()} does not match the manifest "
                        f"({size} bytes, expected {obj.size}): not copied"
                    )
                writer.commit()
            except BaseException:
                writer.abort()
                raise
            finally:
                reader.close()
            copied += 1
            moved += size
    target.put(manifest_key(manifest.target, manifest.backup_id), manifest.to_json())
    return CopyResult(copied, skipped, moved, repaired)
