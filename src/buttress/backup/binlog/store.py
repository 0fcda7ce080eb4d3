"""One file as one object, age(zstd(raw)), in every destination of a target (the required
count honoured), and back: what the binlog archive stores. Streams in chunks: a binlog file
(up to max_binlog_size, 1 GiB by default) is never held in memory."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from buttress.backup.destinations import Destination, ObjectWriter
from buttress.backup.errors import BackupError, CorruptBackupError
from buttress.backup.pipeline import CHUNK, StorageOptions

__all__ = ["Stored", "file_sha256", "read_file", "store_file"]


@dataclass
class Stored:
    """Where one file went: the destinations that hold it now and those that failed."""

    key: str
    stored: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)  # held it before (same checksum)
    failed: dict[str, str] = field(default_factory=dict)


class _Limited:
    """The first ``size`` bytes of ``source``."""

    def __init__(self, source: BinaryIO, size: int) -> None:
        self.source = source
        self.left = size

    def read(self, n: int = -1) -> bytes:
        if self.left <= 0:
            return b""
        data = self.source.read(self.left if n < 0 else min(n, self.left))
        self.left -= len(data)
        return data


class _Fanout:
    """What pyrage writes into: every destination's writer still healthy."""

    def __init__(self, writers: dict[str, ObjectWriter], required: int, total: int) -> None:
        self.writers = writers
        self.required = required
        self.total = total
        self.failed: dict[str, str] = {}
        self.error: BackupError | None = None

    def write(self, data: bytes) -> int:
        for name, w in list(self.writers.items()):
            try:
                w.write(data)
            except BackupError as exc:
                self.failed[name] = str(exc)
                del self.writers[name]
        self._enough()
        return len(data)

    def _enough(self) -> None:
        if len(self.writers) < self.required:
            self.error = BackupError(
                "; ".join(self.failed.values())
                + f" ({len(self.writers)} of {self.total} destinations left, "
                f"{self.required} required)"
            )
            raise self.error

    def flush(self) -> None:
        return None


def file_sha256(path: Path, size: int) -> str:
    """The SHA-256 of the first ``size`` bytes of ``path``."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        reader = _Limited(f, size)
        while data := reader.read(CHUNK):
            digest.update(data)
    return digest.hexdigest()


def store_file(
    path: Path,
    size: int,
    key: str,
    destinations: Sequence[Destination],
    settings: StorageOptions,
    required: int | None = None,
) -> Stored:
    """Store the first ``size`` bytes of ``path`` at ``key`` in every destination that does not
    hold it yet; BackupError (naming each failed destination) unless ``required`` (default:
    ``settings.required``, else all) hold it afterwards. ``key`` names the content (its
    checksum is in it), so an object already there is this file."""
    import pyrage
    import zstandard

    if not settings.recipients:
        raise BackupError(
            f"{key}: archived files are encrypted to backup.recipients, and there are none "
            "(a passphrase alone cannot be used: there is no manifest to seal its key in)"
        )
    need = required if required is not None else settings.required
    need = len(destinations) if need is None else min(need, len(destinations))
    result = Stored(key)
    writers: dict[str, ObjectWriter] = {}
    try:
        for dest in destinations:
            try:
                if dest.exists(key):
                    result.already.append(dest.name)
                    continue
                writers[dest.name] = dest.writer(key)
            except BackupError as exc:
                result.failed[dest.name] = str(exc)
        if writers and len(writers) + len(result.already) < need:
            raise BackupError(
                f"{key}: {len(writers) + len(result.already)} of {len(destinations)} "
                f"destinations can take it, {need} required: "
                + "; ".join(f"{n}: {why}" for n, why in result.failed.items())
            )
        if writers:
            fanout = _Fanout(writers, need - len(result.already), len(destinations))
            fanout.failed.update(result.failed)
            params = zstandard.ZstdCompressionParameters.from_level(settings.level)
            compressor = zstandard.ZstdCompressor(compression_params=params)
            with open(path, "rb") as f:
                try:
                    with compressor.stream_reader(_Limited(f, size), read_size=CHUNK) as zr:  # type: ignore[arg-type]
                        pyrage.encrypt_io(zr, fanout, list(settings.recipients))
                except (pyrage.EncryptError, OSError) as exc:
                    if fanout.error is not None:
                        raise fanout.error from None
                    raise BackupError(f"{key}: {exc}") from None
            if fanout.error is not None:  # raised in a write, which pyrage may not pass on
                raise fanout.error
            for name, w in list(writers.items()):
                try:
                    w.commit()
                    result.stored.append(name)
                except BackupError as exc:
                    fanout.failed[name] = str(exc)
                del writers[name]
            result.failed = fanout.failed
    finally:
        for w in writers.values():
            w.abort()
    held = len(result.stored) + len(result.already)
    if held < need:
        raise BackupError(
            f"{key}: stored in {held} of {len(destinations)} destinations, {need} required: "
            + "; ".join(f"{n}: {why}" for n, why in result.failed.items())
        )
    return result


def read_file(
    destination: Destination, key: str, sha256: str, identities: Sequence[Any], out: BinaryIO
) -> int:
    """Write the raw bytes of the object at ``key`` to ``out`` (decrypting, decompressing),
    checking them against ``sha256``; the byte count.

    Raises:
        CorruptBackupError: the object is missing, cannot be decrypted with ``identities``,
            or is not what its name says.
    """
    import pyrage
    import zstandard

    where = f"{key} in destination {destination.describe()}"
    digest = hashlib.sha256()

    class _Sink:
        count = 0

        def write(self, data: bytes) -> int:
            digest.update(data)
            out.write(data)
            self.count += len(data)
            return len(data)

        def flush(self) -> None:
            out.flush()

    sink = _Sink()
    try:
        source = destination.reader(key)
    except BackupError as exc:
        raise CorruptBackupError(f"{where}: {exc}") from None
    with source:
        try:
            with zstandard.ZstdDecompressor().stream_writer(
                sink,  # type: ignore[arg-type]
                write_size=CHUNK,
                closefd=False,
            ) as zw:
                pyrage.decrypt_io(source, zw, list(identities))
        except (pyrage.DecryptError, OSError, zstandard.ZstdError) as exc:
            raise CorruptBackupError(
                f"{where}: cannot decrypt or decompress ({exc}): damaged, or not encrypted "
                "to these identities"
            ) from None
    if digest.hexdigest() != sha256:
        raise CorruptBackupError(f"{where}: SHA-256 mismatch (the object was altered)")
    return sink.count
