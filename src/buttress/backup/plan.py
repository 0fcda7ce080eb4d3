"""Which destination each object of a backup is read from: the first whose copy matches the
manifest, object by object, so one damaged copy does not fail a restore another destination
can serve. Planned before anything is restored (hash only, no decryption)."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from buttress.backup import progress
from buttress.backup.destinations import Destination
from buttress.backup.errors import CorruptBackupError
from buttress.backup.format import Manifest, StoredObject
from buttress.backup.pipeline import check_object

__all__ = ["ObjectPlan", "plan_from_problems", "plan_objects"]

log = logging.getLogger("buttress.backup")


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


def _finish(
    manifest: Manifest,
    destinations: Sequence[Destination],
    problem_of: Mapping[tuple[str, str], str] | None,
    artifacts: Sequence[str] | None = None,
) -> ObjectPlan:
    if not destinations:
        raise CorruptBackupError(f"backup {manifest.backup_id}: no destination to read from")
    sources: dict[str, Destination] = {}
    skipped: list[str] = []
    unreadable: list[str] = []
    for obj in _objects(manifest, artifacts):
        passed: list[str] = []
        for dest in destinations:
            if problem_of is None:
                problem = check_object(obj, dest)
            else:
                problem = problem_of.get((dest.name, obj.key), "")
            if not problem:
                sources[obj.key] = dest
                break
            passed.append(f"object {obj.key} in destination {dest.describe()}: {problem}")
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


def plan_objects(
    manifest: Manifest,
    destinations: Sequence[Destination],
    artifacts: Sequence[str] | None = None,
) -> ObjectPlan:
    """Hash every object of ``manifest`` (or of only these ``artifacts``) in ``destinations``
    (in order of preference, stopping at the first good copy of each) and say where to read
    each one from.

    Reads each object at least once (a second read for a restore); decrypts nothing.

    Raises:
        CorruptBackupError: some object has no good copy anywhere (each named); nothing has
            been read into a restore yet.
    """
    progress.start(f"checking {manifest.target} before restoring", manifest.stored_size)
    return _finish(manifest, destinations, None, artifacts)


def plan_from_problems(
    manifest: Manifest,
    destinations: Sequence[Destination],
    problems: Mapping[str, Mapping[str, str]],
) -> ObjectPlan:
    """The plan :func:`plan_objects` would make, from a verify that already read every object:
    ``problems`` is destination name -> object key -> problem (the good ones absent)."""
    flat = {(d, k): p for d, by_key in problems.items() for k, p in by_key.items()}
    return _finish(manifest, destinations, flat)
