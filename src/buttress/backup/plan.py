"""Which destination each object of a backup is read from: the first whose copy matches the
manifest, object by object, so one damaged copy does not fail a restore another destination
can serve. Planned before anything is restored (hash only, no decryption)."""

from __future__ import annotations

import contextlib
import contextvars
import logging
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from buttress.backup import progress
from buttress.backup.destinations import Destination
from buttress.backup.errors import BackupError, CorruptBackupError
from buttress.backup.format import Manifest, StoredObject
from buttress.backup.pipeline import check_object

__all__ = ["ObjectPlan", "plan_from_problems", "plan_objects"]

log = logging.getLogger("buttress.backup")
_MAX_WORKERS = 4


@dataclass
class ObjectPlan:
    """Per object key, the destination to read it from; ``skipped`` names each copy passed
    over and why ("object K in destination A: SHA-256 mismatch; read from B")."""

    manifest: Manifest
    sources: dict[str, Destination]
    skipped: list[str] = field(default_factory=list)

    def destination_of(self, key: str) -> Destination:
        return self.sources[key]

    @property
    def used(self) -> list[str]:
        """The destinations read from, in first-use order."""
        return list(dict.fromkeys(d.name for d in self.sources.values()))


def _objects(manifest: Manifest, artifacts: Sequence[str] | None) -> Iterator[StoredObject]:
    for artifact in manifest.artifacts:
        if artifacts is None or artifact.name in artifacts:
            yield from artifact.objects


Problem = Callable[[Destination, StoredObject], str]  # "" when the copy is good


def _finish(
    manifest: Manifest,
    destinations: Sequence[Destination],
    objects: Sequence[StoredObject],
    problem: Problem,
) -> ObjectPlan:
    sources: dict[str, Destination] = {}
    skipped: list[str] = []
    unreadable: list[str] = []
    for obj in objects:
        passed: list[str] = []
        for dest in destinations:
            why = problem(dest, obj)
            if not why:
                sources[obj.key] = dest
                break
            passed.append(f"object {obj.key} in destination {dest.describe()}: {why}")
        if obj.key in sources:
            skipped += [f"{p}; read from {sources[obj.key].name}" for p in passed]
        else:
            unreadable.append("; ".join(passed))
    if unreadable:
        raise CorruptBackupError(
            f"backup {manifest.backup_id}: no destination holds a good copy of "
            f"{len(unreadable)} object(s), nothing was restored: " + "; ".join(unreadable)
        )
    for note in skipped:
        log.warning("%s", note)
    return ObjectPlan(manifest, sources, skipped)


def _check_all(objects: Sequence[StoredObject], destination: Destination) -> dict[str, str]:
    """Every object's problem in ``destination``, hashed a few at a time (hashlib and file
    reads release the GIL, so this scales with the cores while nothing else runs)."""
    workers = min(len(objects), os.cpu_count() or 1, _MAX_WORKERS)
    if workers <= 1:
        return {o.key: check_object(o, destination) for o in objects}

    def one(obj: StoredObject) -> str:
        return check_object(obj, destination)

    # one call here first, so a destination's lazily made client (S3) is made by one thread
    with contextlib.suppress(BackupError):
        destination.size(objects[0].key)
    with ThreadPoolExecutor(workers, thread_name_prefix="buttress-check") as pool:
        # each task in a copy of this context, so progress is reported as from here
        found = pool.map(lambda o: contextvars.copy_context().run(one, o), objects)
        return {o.key: why for o, why in zip(objects, found, strict=True)}


def plan_objects(
    manifest: Manifest,
    destinations: Sequence[Destination],
    artifacts: Sequence[str] | None = None,
) -> ObjectPlan:
    """Hash every object of ``manifest`` (or of only these ``artifacts``) in ``destinations``
    (in order of preference, trying the next one only for an object whose copy is bad) and
    say where to read each one from.

    Reads each object at least once (a second read for a restore); decrypts nothing.

    Raises:
        CorruptBackupError: some object has no good copy anywhere (each named); nothing has
            been read into a restore yet.
    """
    if not destinations:
        raise CorruptBackupError(f"backup {manifest.backup_id}: no destination to read from")
    progress.start(f"checking {manifest.target} before restoring", manifest.stored_size)
    objects = list(_objects(manifest, artifacts))
    preferred = destinations[0]
    first = _check_all(objects, preferred)

    def problem(dest: Destination, obj: StoredObject) -> str:
        return first[obj.key] if dest is preferred else check_object(obj, dest)

    return _finish(manifest, destinations, objects, problem)


def plan_from_problems(
    manifest: Manifest,
    destinations: Sequence[Destination],
    problems: Mapping[str, Mapping[str, str]],
) -> ObjectPlan:
    """The plan :func:`plan_objects` would make, from a verify that already read every object:
    ``problems`` is destination name -> object key -> problem (the good ones absent)."""
    if not destinations:
        raise CorruptBackupError(f"backup {manifest.backup_id}: no destination to read from")

    def problem(dest: Destination, obj: StoredObject) -> str:
        return problems.get(dest.name, {}).get(obj.key, "")

    return _finish(manifest, destinations, list(_objects(manifest, None)), problem)
