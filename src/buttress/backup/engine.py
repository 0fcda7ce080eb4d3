"""Taking, verifying and restoring one backup (no catalog here: see :mod:`buttress.backup.runs`)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, BinaryIO

from buttress._version import __version__
from buttress.backup.destinations import Destination
from buttress.backup.errors import BackupError, CorruptBackupError, RestoreError
from buttress.backup.format import Manifest, manifest_key, new_backup_id
from buttress.backup.keys import fingerprint, passphrase_key
from buttress.backup.pipeline import Settings, drain, read_artifact, store_artifact, verify_objects
from buttress.backup.sources.base import Source

__all__ = [
    "BackupResult",
    "CopyResult",
    "check_identities",
    "check_objects",
    "copy_backup",
    "load_manifest",
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
        source={"kind": source.kind, "describe": source.describe(), **facts},
        started_at=started,
        finished_at=_now(),
        compression={"algorithm": "zstd", "level": settings.level},
        encryption=encryption,
        artifacts=artifacts,
        metadata=metadata,
        timings=timings,
        buttress_version=__version__,
    )
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


def load_manifest(destination: Destination, target: str, backup_id: str) -> Manifest:
    """The manifest of a backup in one destination.

    Raises:
        CorruptBackupError: there is none (an incomplete run), or it is damaged.
    """
    key = manifest_key(target, backup_id)
    if not destination.exists(key):
        raise CorruptBackupError(
            f"backup {backup_id} has no manifest in destination {destination.describe()}: "
            "it never completed (or was removed)"
        )
    return Manifest.from_json(destination.get(key), f"{destination.describe()}: {key}")


def verify(manifest: Manifest, destination: Destination) -> list[str]:
    """Every object re-read and checked: the problems, one per bad object (empty: good)."""
    return [
        f"{obj.key} in {destination.describe()}: {problem}"
        for obj, problem in verify_objects(manifest, destination)
    ]


def check_objects(manifest: Manifest, destination: Destination) -> None:
    """Every object of the backup in ``destination`` re-read and its SHA-256 checked.

    integrity: the per-object pre-pass (``plan_objects``, choosing a good copy per object among
    the destinations) supersedes this; it is called in one place, before a restore touches its
    target (:func:`buttress.backup.restoring.restore_safely`).

    Raises:
        CorruptBackupError: naming each bad object (missing, wrong size, altered).
    """
    bad = verify(manifest, destination)
    if bad:
        more = f" (and {len(bad) - 5} more)" if len(bad) > 5 else ""
        raise CorruptBackupError(
            f"backup {manifest.backup_id} is damaged: " + "; ".join(bad[:5]) + more
        )


class _Opened(Exception):
    """The first decrypted bytes arrived: the identities open the backup."""


class _FirstBytes:
    def write(self, data: bytes) -> int:
        raise _Opened

    def flush(self) -> None:
        return None


def check_identities(
    manifest: Manifest, destination: Destination, identities: Sequence[Any]
) -> None:
    """Decrypt the first bytes of the first artifact (about one 64 KiB age chunk is read).

    Raises:
        CorruptBackupError: the identities cannot decrypt it (or its first object is damaged;
            named as such).
    """
    if not manifest.artifacts:
        return
    try:
        read_artifact(manifest, manifest.artifacts[0].name, destination, identities, _FirstBytes())  # type: ignore[arg-type]
    except _Opened:
        return


def _reader(manifest: Manifest, destination: Destination, identities: Sequence[Any]) -> Any:
    def read(name: str, out: BinaryIO) -> int:
        return read_artifact(manifest, name, destination, identities, out)

    return read


def restore(
    manifest: Manifest,
    source: Source,
    destination: Destination,
    identities: Sequence[Any],
    to: str,
    *,
    force: bool = False,
    tables: list[str] | None = None,
) -> str:
    """Restore a backup into ``to``; returns where it went."""
    return source.restore(
        _reader(manifest, destination, identities), to, force=force, tables=tables
    )


def restore_globals(
    manifest: Manifest, source: Source, destination: Destination, identities: Sequence[Any], to: str
) -> str:
    """Apply a PostgreSQL backup's roles and tablespaces to the server of ``to``."""
    apply = getattr(source, "restore_globals", None)
    if apply is None or "globals" not in [a.name for a in manifest.artifacts]:
        raise RestoreError(f"backup {manifest.backup_id} holds no globals (roles, tablespaces)")
    result: str = apply(_reader(manifest, destination, identities), to)
    return result


@dataclass
class RestoreTest:
    ok: bool
    seconds: float
    problems: list[str]


def restore_test(
    manifest: Manifest, source: Source, destination: Destination, identities: Sequence[Any]
) -> RestoreTest:
    """Restore into a scratch target, compare with what the backup recorded, clean up."""
    started = time.perf_counter()
    with source.scratch() as where:
        try:
            source.restore(_reader(manifest, destination, identities), where)
            problems = source.compare(manifest.metadata, source.inspect(where))
        except BackupError as exc:
            problems = [str(exc)]
    return RestoreTest(not problems, round(time.perf_counter() - started, 3), problems)


@dataclass
class CopyResult:
    copied: int
    skipped: int
    bytes: int


def copy_backup(manifest: Manifest, source: Destination, target: Destination) -> CopyResult:
    """Put every object of a backup into ``target`` (those already there with the manifest's
    size are skipped, so an interrupted copy resumes), each checked against the manifest's
    SHA-256 as it is copied; then the manifest, last.

    Raises:
        CorruptBackupError: an object in ``source`` does not match the manifest (nothing is
            written under its name in ``target``).
        BackupError: either destination failed (what was copied stays: run it again).
    """
    from buttress.backup import progress

    progress.start(f"copying to {target.name}", manifest.stored_size)
    copied = skipped = moved = 0
    for artifact in manifest.artifacts:
        for obj in artifact.objects:
            if target.size(obj.key) == obj.size:
                skipped += 1
                progress.advance(obj.size)
                continue
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
    return CopyResult(copied, skipped, moved)
