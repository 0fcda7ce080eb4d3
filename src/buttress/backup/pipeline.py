"""The streaming pipeline: raw -> zstd -> age -> SHA-256 -> objects in every destination, and
back. Memory stays flat: data moves in chunks of about 1 MiB whatever the size of the backup.

Compression runs in zstd's own threads and encryption in pyrage (Rust), both without the GIL;
the dump tool is a separate process. Nothing is written under an object's final name until it
is whole, and the manifest comes last.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, BinaryIO

from buttress.backup import progress
from buttress.backup.destinations import Destination, ObjectWriter
from buttress.backup.errors import BackupError, CorruptBackupError
from buttress.backup.format import Artifact, Manifest, StoredObject, object_key

if TYPE_CHECKING:
    from buttress.backup.plan import ObjectPlan

__all__ = [
    "Settings",
    "StorageOptions",
    "check_object",
    "drain",
    "read_artifact",
    "store_artifact",
    "verify_objects",
]

CHUNK = 1 << 20
# zstd's multi-threaded jobs: each worker holds about two jobs' worth of buffers, so the
# default (8 MiB and more at level 3) costs ~38 MB for two workers; 1 MiB jobs cost ~11 MB,
# store a little less and are as fast (measured on a mixed 350 MiB pg_dump stream: peak RSS of
# `buttress backup run` 95 MB with 2 MiB jobs, 87 MB with 1 MiB)
ZSTD_JOB = 1 << 20


@dataclass(frozen=True)
class StorageOptions:
    """How an artifact is stored."""

    recipients: Sequence[Any]  # pyrage recipients
    passphrase: str | None = field(default=None, repr=False)  # also encrypt to a sealed key
    level: int = 3
    threads: int = -1  # zstd worker threads (-1: one per core)
    object_size: int = 64 << 20
    required: int | None = None  # destinations that must succeed (None: all)
    manifest_key: bytes | None = field(default=None, repr=False)  # MAC the manifest with it


Settings = StorageOptions  # the name before the naming convention (docs/architecture.md)


class _Counting:
    """A reader that counts the bytes read through it (the raw size)."""

    def __init__(self, source: BinaryIO) -> None:
        self.source = source
        self.count = 0
        self.error: BaseException | None = None

    def read(self, n: int = -1) -> bytes:
        try:
            data = self.source.read(n)
        except BaseException as exc:
            self.error = exc
            raise
        self.count += len(data)
        progress.advance(len(data))
        return data


@dataclass
class _Target:
    destination: Destination
    writer: ObjectWriter | None = None
    error: str = ""


def _writer(t: _Target) -> ObjectWriter:
    """The object ``t`` is writing (a healthy target always has one open)."""
    if t.writer is None:
        raise BackupError(f"destination {t.destination.name}: no object open to write")
    return t.writer


@dataclass
class _Splitter:
    """What pyrage writes the encrypted stream into: it hashes, splits into objects and writes
    each object to every destination still healthy."""

    targets: list[_Target]
    target: str
    backup_id: str
    artifact: str
    object_size: int
    required: int
    total: Any = field(default_factory=hashlib.sha256)
    objects: list[StoredObject] = field(default_factory=list)
    size: int = 0
    _hash: Any = None
    _fill: int = 0
    error: BaseException | None = None  # what stopped the stream (pyrage re-wraps it)

    def _live(self) -> list[_Target]:
        return [t for t in self.targets if not t.error]

    def _open(self) -> None:
        key = object_key(self.target, self.backup_id, self.artifact, len(self.objects))
        self._hash = hashlib.sha256()
        self._fill = 0
        for t in self._live():
            try:
                t.writer = t.destination.writer(key)
            except BackupError as exc:
                self._fail(t, exc)

    def _fail(self, t: _Target, exc: BaseException) -> None:
        t.error = str(exc)
        if t.writer is not None:
            t.writer.abort()
            t.writer = None
        if len(self._live()) < self.required:
            self.error = BackupError(
                "; ".join(x.error for x in self.targets if x.error)
                + f" ({len(self._live())} of {len(self.targets)} destinations left, "
                f"{self.required} required)"
            )
            raise self.error

    def write(self, data: bytes) -> int:
        view = memoryview(data)
        self.total.update(view)
        self.size += len(view)
        while view:
            if self._hash is None:
                self._open()
            take = min(len(view), self.object_size - self._fill)
            piece = view[:take]
            self._hash.update(piece)
            for t in self._live():
                try:
                    _writer(t).write(piece)
                except BackupError as exc:
                    self._fail(t, exc)
            self._fill += take
            view = view[take:]
            if self._fill == self.object_size:
                self._close()
        return len(data)

    def flush(self) -> None:
        return None

    def _close(self) -> None:
        key = object_key(self.target, self.backup_id, self.artifact, len(self.objects))
        for t in self._live():
            try:
                _writer(t).commit()
            except BackupError as exc:
                self._fail(t, exc)
            t.writer = None
        self.objects.append(StoredObject(key, self._fill, self._hash.hexdigest()))
        self._hash = None

    def finish(self) -> None:
        if self._hash is not None or not self.objects:
            if self._hash is None:
                self._open()  # an empty stream still has one (empty) object
            self._close()

    def abort(self) -> None:
        for t in self.targets:
            if t.writer is not None:
                t.writer.abort()
                t.writer = None


def store_artifact(
    raw: BinaryIO,
    name: str,
    *,
    target: str,
    backup_id: str,
    destinations: Sequence[Destination],
    settings: StorageOptions,
    failed: dict[str, str],
) -> Artifact:
    """Compress, encrypt, hash and split ``raw`` into objects in every destination.

    ``failed`` collects destinations that failed (name -> reason); the artifact is stored when
    at least ``settings.required`` (default: all) succeeded, else BackupError.
    """
    import pyrage
    import zstandard

    progress.start(f"backing up {target} ({name})")
    required = len(destinations) if settings.required is None else settings.required
    targets = [_Target(d, error=failed.get(d.name, "")) for d in destinations]
    splitter = _Splitter(targets, target, backup_id, name, settings.object_size, required)
    counting = _Counting(raw)
    threads = (os.cpu_count() or 1) if settings.threads < 0 else settings.threads
    params = zstandard.ZstdCompressionParameters.from_level(
        settings.level, threads=threads, job_size=ZSTD_JOB if threads else 0
    )
    compressor = zstandard.ZstdCompressor(compression_params=params)
    try:
        with compressor.stream_reader(counting, read_size=CHUNK) as zr:  # type: ignore[arg-type]
            pyrage.encrypt_io(zr, splitter, list(settings.recipients))
        splitter.finish()
    except (pyrage.EncryptError, OSError) as exc:
        splitter.abort()
        cause = splitter.error or counting.error
        if cause is not None:
            raise cause from None  # ours, not pyrage's wrapping of it
        raise BackupError(f"artifact {name}: {exc}") from None
    except BaseException:
        splitter.abort()
        raise
    for t in targets:
        if t.error:
            failed.setdefault(t.destination.name, t.error)
    return Artifact(
        name=name,
        raw_size=counting.count,
        stored_size=splitter.size,
        sha256=splitter.total.hexdigest(),
        objects=splitter.objects,
    )


class _ObjectsReader:
    """The stored stream of an artifact, read object by object (each from the destination
    ``source_of`` names for it), each object's size and SHA-256 checked as it ends."""

    def __init__(self, source_of: Callable[[str], Destination], artifact: Artifact) -> None:
        self.source_of = source_of
        self.destination: Destination | None = None
        self.objects = iter(artifact.objects)
        self.current: StoredObject | None = None
        self.file: BinaryIO | None = None
        self.hash: Any = None
        self.read_bytes = 0
        self.error: BaseException | None = None

    def _next(self) -> BinaryIO | None:
        """The next object, opened (``None`` after the last)."""
        self.current = next(self.objects, None)
        if self.current is None:
            return None
        self.destination = self.source_of(self.current.key)
        self.file = self.destination.reader(self.current.key)
        self.hash = hashlib.sha256()
        self.read_bytes = 0
        return self.file

    def _check(self) -> None:
        """Close the object read to its end, and check its size and SHA-256."""
        current, file, destination = self.current, self.file, self.destination
        if current is None or file is None or destination is None:
            raise BackupError("reading a backup: no object open to check")
        file.close()
        where = f"object {current.key} in destination {destination.describe()}"
        if self.read_bytes != current.size:
            raise CorruptBackupError(
                f"{where}: {self.read_bytes} bytes, the manifest says "
                f"{current.size} (truncated or replaced)"
            )
        if self.hash.hexdigest() != current.sha256:
            raise CorruptBackupError(f"{where}: SHA-256 mismatch (the object was altered)")
        self.file = None

    def read(self, n: int = -1) -> bytes:
        try:
            return self._read(n)
        except BaseException as exc:  # pyrage re-wraps it: keep it to re-raise as is
            self.error = exc
            raise

    def _read(self, n: int) -> bytes:
        while True:
            file = self.file if self.file is not None else self._next()
            if file is None:
                return b""
            data = file.read(CHUNK if n < 0 else n)
            if data:
                self.hash.update(data)
                self.read_bytes += len(data)
                return data
            self._check()

    def drain_and_check(self) -> None:
        """Read the rest of the current object and check it (to name a damaged one)."""
        if self.file is not None:
            while True:
                data = self.file.read(CHUNK)
                if not data:
                    break
                self.hash.update(data)
                self.read_bytes += len(data)
            self._check()


class _Sink:
    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.count = 0
        self.error: BaseException | None = None

    def write(self, data: bytes) -> int:
        try:
            self.out.write(data)
        except BaseException as exc:  # e.g. the restore tool stopped reading: re-raised as is
            self.error = exc
            raise
        self.count += len(data)
        progress.advance(len(data))
        return len(data)

    def flush(self) -> None:
        self.out.flush()


def read_artifact(
    manifest: Manifest,
    name: str,
    destination: Destination | ObjectPlan,
    identities: Sequence[Any],
    out: BinaryIO,
) -> int:
    """Write the raw bytes of artifact ``name`` to ``out`` (checking, decrypting, decompressing
    on the way); returns how many were written. ``destination`` is the one to read every
    object from, or a plan naming one per object.

    Raises:
        CorruptBackupError: an object is missing, truncated or altered (named), or the
            identities cannot decrypt it.
    """
    import pyrage
    import zstandard

    artifact = manifest.artifact(name)
    progress.start(f"restoring {manifest.target} ({name})", artifact.raw_size)
    from buttress.backup import plan

    source_of: Callable[[str], Destination]
    if isinstance(destination, plan.ObjectPlan):
        source_of = destination.destination_of
    else:
        one = destination
        source_of = lambda _key: one  # noqa: E731
    reader = _ObjectsReader(source_of, artifact)
    sink = _Sink(out)
    decompressor = zstandard.ZstdDecompressor()
    try:
        with decompressor.stream_writer(sink, write_size=CHUNK, closefd=False) as zw:  # type: ignore[arg-type]
            pyrage.decrypt_io(reader, zw, list(identities))
    except CorruptBackupError:
        raise
    except (pyrage.DecryptError, OSError) as exc:  # pyrage reports a bad tag as OSError
        if sink.error is not None:
            raise sink.error from None
        if reader.error is not None:
            raise reader.error from None
        reader.drain_and_check()  # a damaged object is the likelier cause: name it
        raise CorruptBackupError(
            f"artifact {name} of backup {manifest.backup_id}: cannot decrypt ({exc}); "
            "is this the identity of one of the recipients "
            f"{', '.join(manifest.encryption.get('recipients', []))}?"
        ) from None
    except zstandard.ZstdError as exc:
        raise CorruptBackupError(f"artifact {name} of backup {manifest.backup_id}: {exc}") from None
    if sink.count != artifact.raw_size:
        raise CorruptBackupError(
            f"artifact {name} of backup {manifest.backup_id}: restored {sink.count} bytes, "
            f"the manifest says {artifact.raw_size}"
        )
    return sink.count


def drain(reader: BinaryIO, out: ObjectWriter | None = None) -> tuple[int, str]:
    """Read ``reader`` to the end (copying into ``out`` if given), reporting progress; returns
    the byte count and the SHA-256 of what was read."""
    digest = hashlib.sha256()
    size = 0
    while True:
        data = reader.read(CHUNK)
        if not data:
            return size, digest.hexdigest()
        digest.update(data)
        size += len(data)
        if out is not None:
            out.write(data)
        progress.advance(len(data))


def check_object(obj: StoredObject, destination: Destination) -> str:
    """Read ``obj`` from ``destination`` and hash it: the problem, or "" when it matches."""
    try:
        f = destination.reader(obj.key)
    except BackupError:
        return "missing"
    with f:
        size, digest = drain(f)
    if size != obj.size:
        return f"size {size}, expected {obj.size}"
    if digest != obj.sha256:
        return "SHA-256 mismatch"
    return ""


def verify_objects(
    manifest: Manifest, destination: Destination
) -> Iterator[tuple[StoredObject, str]]:
    """Re-read every object of the backup in ``destination``: yields (object, problem) for each
    bad one (missing, wrong size, wrong SHA-256); nothing for a good backup."""
    progress.start(f"checking {destination.name}", manifest.stored_size)
    for artifact in manifest.artifacts:
        for obj in artifact.objects:
            problem = check_object(obj, destination)
            if problem:
                yield obj, problem
