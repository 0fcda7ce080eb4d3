"""One target's WAL archive in its destinations: push a file, fetch it back, list, remove.

A file is stored as one object, ``age(zstd(raw))``, under ``T/wal/<dir>/<name>-<tag>``
(:mod:`.layout`; the tag is an HMAC of the target, the name and the raw content's SHA-256
with the manifest key: :meth:`WalArchive.tag`) in every destination of the target; ``push``
returns only once the target's ``required`` count of destinations hold it (each write is
atomic: a partial name, then a rename or a completed upload), so PostgreSQL never drops a
segment that is not stored.

The archive's identity, ``T/wal/archive.json``, is written by the first segment pushed: the
cluster's system identifier, its WAL format (page magic) and segment size, MAC'ed with the
repository's manifest key. Every later push and every fetch checks a segment's own page header
against it and against the name, so a second server archiving into the same target, or a
segment renamed or swapped in storage, is refused.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from buttress.backup.destinations import Destination
from buttress.backup.errors import BackupError, CorruptBackupError
from buttress.backup.keys import open_passphrase_key, passphrase_key
from buttress.backup.pipeline import StorageOptions
from buttress.backup.wal import layout
from buttress.backup.wal.errors import (
    WalConflictError,
    WalError,
    WalIdentityError,
    WalMissingError,
)
from buttress.backup.wal.header import check_segment
from buttress.backup.wal.names import DEFAULT_SEGMENT_SIZE, WalName, parse_name

__all__ = ["ArchiveInfo", "FetchResult", "PushResult", "WalArchive"]

INFO_VERSION = 1
_CREATING = threading.Lock()


@dataclass(frozen=True)
class PushResult:
    name: WalName
    sha256: str
    raw_size: int
    stored_size: int
    destinations: list[str]  # that hold it now
    failed: dict[str, str] = field(default_factory=dict)
    already: bool = False  # every destination that holds it held it before


@dataclass(frozen=True)
class FetchResult:
    name: WalName
    source: str  # the destination it was read from
    raw_size: int
    skipped: dict[str, str] = field(default_factory=dict)  # destinations passed over, why
    authenticated: bool = True  # False: no manifest key to check the file's MAC with


@dataclass(frozen=True)
class ArchiveInfo:
    """``archive.json``: whose WAL this archive holds."""

    system_identifier: str
    wal_magic: int
    segment_size: int
    created_at: str
    passphrase_recipient: str = ""  # the public half of the sealed passphrase key
    passphrase_identity: str = ""  # that key, sealed with the backup passphrase
    version: int = INFO_VERSION

    def fields(self) -> dict[str, Any]:
        return {
            "created_at": self.created_at,
            "passphrase_identity": self.passphrase_identity,
            "passphrase_recipient": self.passphrase_recipient,
            "segment_size": self.segment_size,
            "system_identifier": self.system_identifier,
            "version": self.version,
            "wal_magic": self.wal_magic,
        }


def _canonical(data: dict[str, Any]) -> bytes:
    return json.dumps(data, indent=2, sort_keys=True).encode() + b"\n"


class WalArchive:
    """The WAL archive of ``target`` in ``destinations`` (in order of preference for fetch)."""

    def __init__(
        self,
        target: str,
        destinations: Sequence[Destination],
        settings: StorageOptions,
        identities: Sequence[Any] = (),
    ) -> None:
        if not destinations:
            raise WalError(f"target {target}: no destination configured")
        self.target = target
        self.destinations = list(destinations)
        self.settings = settings
        self.identities = list(identities)
        self._info: ArchiveInfo | None = None
        self._unread: list[str] = []  # why info() could not read some destinations

    # -- identity ------------------------------------------------------------------------

    def _mac(self, data: dict[str, Any]) -> str:
        key = self.settings.manifest_key
        if key is None:
            return ""
        return hmac.new(key, _canonical(data), hashlib.sha256).hexdigest()

    def info(self) -> ArchiveInfo | None:
        """The archive's identity, from the first destination holding a good copy (None: none
        yet).

        Raises:
            CorruptBackupError: every copy is damaged, or its MAC does not match the manifest
                key.
        """
        if self._info is not None:
            return self._info
        key = layout.info_key(self.target)
        self._unread = []
        damaged: list[str] = []
        for dest in self.destinations:
            try:
                if not dest.exists(key):
                    continue
                raw = dest.get(key)
            except BackupError as exc:
                self._unread.append(str(exc))
                continue
            try:
                self._info = self._parse_info(raw, f"{dest.describe()}: {key}")
            except CorruptBackupError as exc:  # a good copy elsewhere still tells it
                damaged.append(str(exc))
                continue
            return self._info
        if damaged:
            raise CorruptBackupError("; ".join(damaged))
        return None

    def _parse_info(self, raw: bytes, where: str) -> ArchiveInfo:
        try:
            data = json.loads(raw)
            mac = data.pop("authentication", "")
            info = ArchiveInfo(**data)
        except (ValueError, TypeError) as exc:
            raise CorruptBackupError(f"{where}: not a WAL archive identity ({exc})") from None
        expected = self._mac(info.fields())
        if expected and not hmac.compare_digest(expected, str(mac)):
            raise CorruptBackupError(
                f"{where}: its MAC does not match the repository's manifest key (altered, or "
                "written with another key)"
            )
        return info

    def _create_info(self, header_sysid: int, magic: int, segment_size: int) -> ArchiveInfo:
        """Write the archive's identity, once: under a lock, so that threads pushing their
        first segments at once (the pusher's workers) agree on one (with a passphrase, on one
        sealed key); PostgreSQL's archiver pushes one file at a time, so processes do not
        race here."""
        with _CREATING:
            self._info = None
            found = self.info()
            if found is not None:
                return found
            if self._unread:  # it may be there: a new one would replace it (and its key)
                raise WalError(
                    f"target {self.target}: the WAL archive's identity could not be read from "
                    "every destination, and the others do not hold it; not writing a new one "
                    "(it would stand beside or replace the one there, with another sealed "
                    "key): " + "; ".join(self._unread)
                )
            return self._write_info(header_sysid, magic, segment_size)

    def _write_info(self, header_sysid: int, magic: int, segment_size: int) -> ArchiveInfo:
        sealed = recipient = ""
        if self.settings.passphrase:
            public, sealed = passphrase_key(self.settings.passphrase)
            recipient = str(public)
        info = ArchiveInfo(
            system_identifier=str(header_sysid),
            wal_magic=magic,
            segment_size=segment_size,
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
            passphrase_recipient=recipient,
            passphrase_identity=sealed,
        )
        data = info.fields()
        data["authentication"] = self._mac(info.fields())
        raw = _canonical(data)
        key = layout.info_key(self.target)
        stored = 0
        errors = []
        for dest in self.destinations:
            try:
                dest.put(key, raw)
                stored += 1
            except BackupError as exc:
                errors.append(str(exc))
        if stored < self._required():
            raise WalError(
                f"target {self.target}: the WAL archive's identity is in {stored} of "
                f"{len(self.destinations)} destinations, {self._required()} required: "
                + "; ".join(errors)
            )
        self._info = info
        return info

    def tag(self, name: str, sha256: str) -> str:
        """What a file's key carries after its name: an HMAC-SHA256, with the repository's
        manifest key, of the target, the name and the SHA-256 of the raw content, so that
        nobody without the key can store a file (a forged segment, one moved from another
        target or name) that a fetch would take; without a manifest key, the SHA-256 itself."""
        key = self.settings.manifest_key
        if key is None:
            return sha256
        message = f"buttress-wal\n{self.target}\n{name}\n{sha256}".encode()
        return hmac.new(key, message, hashlib.sha256).hexdigest()

    def _required(self) -> int:
        required = self.settings.required
        return len(self.destinations) if required is None else min(required, len(self.destinations))

    def _recipients(self, info: ArchiveInfo | None) -> list[Any]:
        recipients = list(self.settings.recipients)
        if self.settings.passphrase and info is not None and info.passphrase_recipient:
            import pyrage

            recipients.append(pyrage.x25519.Recipient.from_str(info.passphrase_recipient))
        if not recipients:
            raise WalError(f"target {self.target}: no recipient and no passphrase to encrypt to")
        return recipients

    # -- push ----------------------------------------------------------------------------

    def push(self, path: Path, name: str | None = None) -> PushResult:
        """Store the WAL file at ``path`` (named ``name``, default: its file name) in every
        destination; see the module docstring.

        Raises:
            WalIdentityError: it is not a segment of this archive's cluster, or is misnamed.
            WalConflictError: the archive holds this name with other content.
            WalError: fewer than the required destinations hold it (named, with why).
        """
        wal_name = self._name(name or path.name)
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise WalError(f"cannot read {path}: {exc.strerror or exc}") from None
        return self.push_bytes(raw, wal_name)

    def _name(self, name: str) -> WalName:
        info = self._info
        size = info.segment_size if info is not None else DEFAULT_SEGMENT_SIZE
        try:
            return parse_name(name, size)
        except ValueError as exc:
            raise WalIdentityError(str(exc)) from None

    def push_bytes(self, raw: bytes, name: WalName) -> PushResult:
        """:meth:`push` of content already read."""
        where = f"WAL file {name.name}"
        info = self.info()
        if name.kind in ("segment", "partial"):
            header = check_segment(raw, self._reparsed(name, raw), where)
            if info is None:
                info = self._create_info(
                    header.system_identifier, header.magic, header.segment_size
                )
            if str(header.system_identifier) != info.system_identifier:
                raise WalIdentityError(
                    f"{where} comes from the cluster with system identifier "
                    f"{header.system_identifier}, but target {self.target}'s WAL archive holds "
                    f"the cluster {info.system_identifier}'s: two servers archive into one "
                    "target (give each its own target), or the cluster was re-created (start "
                    "a new target, or remove the old archive)"
                )
            if header.magic != info.wal_magic or header.segment_size != info.segment_size:
                raise WalIdentityError(
                    f"{where}: WAL format {header.magic:#x} with {header.segment_size}-byte "
                    f"segments; the archive holds format {info.wal_magic:#x} with "
                    f"{info.segment_size}-byte segments (another PostgreSQL major version?)"
                )
        sha = hashlib.sha256(raw).hexdigest()
        tag = self.tag(name.name, sha)
        have: list[str] = []
        missing: list[Destination] = []
        failed: dict[str, str] = {}
        for dest in self.destinations:
            try:
                found = self._stored(dest, name)
            except BackupError as exc:
                failed[dest.name] = str(exc)
                continue
            if tag in found:
                have.append(dest.name)
                continue
            if found:
                raise WalConflictError(
                    f"{where} is already in target {self.target}'s archive in "
                    f"{dest.describe()} with other content (stored as {found[0][:12]}..., this "
                    f"one would be {tag[:12]}...): not overwritten. Is another server archiving "
                    "into this target, or was this cluster restored without a new timeline?"
                )
            missing.append(dest)
        stored = b""
        if missing:
            stored = self._encode(raw, info)
            key = layout.object_key(self.target, name, tag)
            for dest in missing:
                try:
                    dest.put(key, stored)
                    have.append(dest.name)
                except BackupError as exc:
                    failed[dest.name] = str(exc)
        if len(have) < self._required():
            raise WalError(
                f"{where}: stored in {len(have)} of {len(self.destinations)} destinations of "
                f"target {self.target}, {self._required()} required: "
                + "; ".join(f"{k}: {v}" for k, v in failed.items())
            )
        return PushResult(
            name=name,
            sha256=sha,
            raw_size=len(raw),
            stored_size=len(stored),
            destinations=have,
            failed=failed,
            already=not missing,
        )

    def _reparsed(self, name: WalName, raw: bytes) -> WalName:
        """``name`` parsed again with the segment size its own header gives, when it is not
        the default (a cluster initialised with ``--wal-segsize``)."""
        if len(raw) == DEFAULT_SEGMENT_SIZE or len(raw) < 40:
            return name
        with contextlib.suppress(ValueError):
            return parse_name(name.name, len(raw))
        return name

    def _stored(self, dest: Destination, name: WalName) -> list[str]:
        """The SHA-256s under which ``dest`` holds ``name`` (normally zero or one)."""
        # the folder, not the name's own prefix: a local destination lists folders only
        prefix = layout.folder_of(self.target, name)
        found = []
        for key in dest.keys(prefix):
            parsed = layout.parse_key(self.target, key, self._segment_size())
            if parsed is not None and parsed[0].name == name.name:
                found.append(parsed[1])
        return found

    def _segment_size(self) -> int:
        return self._info.segment_size if self._info is not None else DEFAULT_SEGMENT_SIZE

    def _encode(self, raw: bytes, info: ArchiveInfo | None) -> bytes:
        import pyrage
        import zstandard

        compressed = zstandard.ZstdCompressor(level=self.settings.level).compress(raw)
        return bytes(pyrage.encrypt(compressed, self._recipients(info)))

    # -- fetch ---------------------------------------------------------------------------

    def _identities(self, info: ArchiveInfo | None) -> list[Any]:
        found = list(self.identities)
        if info is not None and info.passphrase_identity and self.settings.passphrase:
            found.append(
                open_passphrase_key(
                    info.passphrase_identity,
                    self.settings.passphrase,
                    f"target {self.target}'s WAL archive",
                )
            )
        if not found:
            raise WalError(
                f"target {self.target}: no identity to decrypt WAL with (backup.identity_files, "
                "or backup.passphrase)"
            )
        return found

    def read(self, name: str) -> tuple[bytes, FetchResult]:
        """The raw content of ``name``, from the first destination whose copy is whole.

        Raises:
            WalMissingError: no destination holds it (every one answered).
            WalError: none that answered holds it, and some could not be read.
            CorruptBackupError: every copy is damaged (each named, with why).
        """
        import pyrage
        import zstandard

        wal_name = self._name(name)
        info = self.info()
        identities = self._identities(info)
        problems: dict[str, str] = {}
        seen = False
        for dest in self.destinations:
            try:
                shas = self._stored(dest, wal_name)
            except BackupError as exc:
                problems[dest.name] = str(exc)
                continue
            for tag in shas:
                seen = True
                key = layout.object_key(self.target, wal_name, tag)
                where = f"{key} in {dest.describe()}"
                try:
                    stored = dest.get(key)
                    raw = (
                        zstandard.ZstdDecompressor()
                        .decompressobj()
                        .decompress(pyrage.decrypt(stored, identities))
                    )
                except BackupError as exc:
                    problems[dest.name] = str(exc)
                    continue
                except (pyrage.DecryptError, zstandard.ZstdError, ValueError) as exc:
                    problems[dest.name] = f"{where}: cannot decrypt/decompress ({exc})"
                    continue
                digest = hashlib.sha256(raw).hexdigest()
                if self.settings.manifest_key is None:
                    authentic = True  # no key to check with (after a disaster): said below
                else:
                    authentic = hmac.compare_digest(self.tag(wal_name.name, digest), tag)
                if not authentic:
                    problems[dest.name] = (
                        f"{where}: not authentic: its name's MAC does not match its content "
                        "(altered, forged, or moved from another name or target)"
                    )
                    continue
                if wal_name.kind in ("segment", "partial"):
                    try:
                        header = check_segment(raw, self._reparsed(wal_name, raw), where)
                    except WalIdentityError as exc:
                        problems[dest.name] = str(exc)
                        continue
                    if info is not None and str(header.system_identifier) != info.system_identifier:
                        problems[dest.name] = (
                            f"{where}: from cluster {header.system_identifier}, the archive "
                            f"is cluster {info.system_identifier}'s"
                        )
                        continue
                skipped = {k: v for k, v in problems.items() if k != dest.name}
                keyed = self.settings.manifest_key is not None
                return raw, FetchResult(wal_name, dest.name, len(raw), skipped, keyed)
        if not seen and not problems:
            raise WalMissingError(f"{wal_name.name} is not in target {self.target}'s WAL archive")
        if not seen:
            # a destination that could not be asked may hold it (``required`` below the
            # destinations' count): "missing" would end recovery there, at the wrong point
            raise WalError(
                f"{wal_name.name}: not found in the destinations of target {self.target} that "
                "answered, and these could not be read (they may hold it): "
                + "; ".join(f"{k}: {v}" for k, v in problems.items())
            )
        raise CorruptBackupError(
            f"{wal_name.name}: no good copy in target {self.target}'s archive: "
            + "; ".join(problems.values())
        )

    def fetch(self, name: str, out: Path) -> FetchResult:
        """Write ``name``'s content to ``out`` atomically (a temp file, fsync, rename)."""
        raw, result = self.read(name)
        write_atomically(out, raw)
        return result

    # -- listing -------------------------------------------------------------------------

    def listing(self) -> dict[str, list[tuple[WalName, str]]]:
        """Every archived file in each destination: destination name -> (name, tag)s,
        sorted. A destination that cannot be listed raises (BackupError, named)."""
        out: dict[str, list[tuple[WalName, str]]] = {}
        self.info()
        size = self._segment_size()
        for dest in self.destinations:
            found = []
            for key in dest.keys(layout.prefix(self.target)):
                parsed = layout.parse_key(self.target, key, size)
                if parsed is not None:
                    found.append(parsed)
            out[dest.name] = sorted(found)
        return out

    def remove(self, name: WalName, tag: str) -> list[str]:
        """Delete one archived file (``tag`` as :meth:`listing` gives it) from every
        destination; the errors (one per destination)."""
        key = layout.object_key(self.target, name, tag)
        errors = []
        for dest in self.destinations:
            try:
                dest.delete(key)
            except BackupError as exc:
                errors.append(str(exc))
        return errors


def write_atomically(out: Path, data: bytes) -> None:
    """``data`` at ``out``, whole or not at all: a temp file beside it, fsync'ed, renamed."""
    folder = out.parent
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        Path(tmp).replace(out)
    except BaseException:
        with contextlib.suppress(OSError):
            Path(tmp).unlink()
        raise
    with contextlib.suppress(OSError):
        dirfd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dirfd)
        finally:
            os.close(dirfd)
