"""The repository format: where a backup's objects and manifest live, and what the manifest says.

A backup of target ``T`` with id ``I`` is, in every destination::

    T/I/<artifact>.000000       # the artifact's stored stream (zstd, then age), in pieces of
    T/I/<artifact>.000001       # ``object_size`` bytes, numbered so that `cat T/I/dump.*` is
    ...                         # the whole stream again
    T/I/manifest.json           # written last: its presence is the commit point

The manifest is canonical JSON (``Manifest.to_json``: sorted keys, two-space indent) and, since
manifest authentication, carries an ``authentication`` field: an HMAC-SHA256 of the same JSON
without that field, made with the repository's manifest key (see
:mod:`buttress.backup.authenticity`).

The stored stream of an artifact is ``age(zstd(raw))``: readable with stock tools
(``cat T/I/dump.* | age -d -i key.txt | zstd -d``).
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from buttress.backup.errors import CorruptBackupError

__all__ = [
    "FORMAT_VERSION",
    "Artifact",
    "Manifest",
    "StoredObject",
    "manifest_key",
    "new_backup_id",
    "object_key",
]

FORMAT_VERSION = 1
_ID = re.compile(r"^\d{8}T\d{6}Z-[0-9a-f]{6}$")


def new_backup_id(now: datetime | None = None) -> str:
    """A sortable, unique id: ``20261122T143000Z-1a2b3c``."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{secrets.token_hex(3)}"


def is_backup_id(text: str) -> bool:
    return bool(_ID.match(text))


def object_key(target: str, backup_id: str, artifact: str, index: int) -> str:
    return f"{target}/{backup_id}/{artifact}.{index:06d}"


def manifest_key(target: str, backup_id: str) -> str:
    return f"{target}/{backup_id}/manifest.json"


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    sha256: str


@dataclass
class Artifact:
    """One stream of a backup (``dump``, ``globals``, ``rdb``, ``tar``...)."""

    name: str
    raw_size: int = 0
    stored_size: int = 0
    sha256: str = ""  # of the whole stored stream
    objects: list[StoredObject] = field(default_factory=list)


@dataclass
class Manifest:
    """Everything a verify or a restore needs, written as JSON after every object."""

    backup_id: str
    target: str
    source: dict[str, Any]
    started_at: str
    finished_at: str
    compression: dict[str, Any]
    encryption: dict[str, Any]
    artifacts: list[Artifact]
    metadata: dict[str, Any]
    timings: dict[str, float]
    buttress_version: str
    format_version: int = FORMAT_VERSION
    # {"algorithm": "HMAC-SHA256", "key": <fingerprint>, "mac": <hex>}; empty: unauthenticated
    # (a manifest written before manifest authentication, or without a manifest key)
    authentication: dict[str, Any] = field(default_factory=dict)

    @property
    def raw_size(self) -> int:
        return sum(a.raw_size for a in self.artifacts)

    @property
    def stored_size(self) -> int:
        return sum(a.stored_size for a in self.artifacts)

    def artifact(self, name: str) -> Artifact:
        for artifact in self.artifacts:
            if artifact.name == name:
                return artifact
        raise KeyError(name)

    def to_json(self) -> bytes:
        """The canonical bytes of the manifest, as written (no ``authentication`` when empty,
        so a manifest written before it existed is still canonical)."""
        data = asdict(self)
        if not self.authentication:
            del data["authentication"]
        return json.dumps(data, indent=2, sort_keys=True).encode() + b"\n"

    def signed_bytes(self) -> bytes:
        """What the MAC covers: the canonical JSON without ``authentication``."""
        data = asdict(self)
        del data["authentication"]
        return json.dumps(data, indent=2, sort_keys=True).encode() + b"\n"

    @classmethod
    def from_json(cls, data: bytes, where: str) -> Manifest:
        """Parse a manifest; a damaged or foreign one is a CorruptBackupError naming ``where``."""
        try:
            raw = json.loads(data)
            version = raw.get("format_version")
            if version != FORMAT_VERSION:
                raise CorruptBackupError(
                    f"{where}: manifest format version {version!r}; this buttress reads "
                    f"version {FORMAT_VERSION}"
                )
            artifacts = [
                Artifact(
                    name=a["name"],
                    raw_size=int(a["raw_size"]),
                    stored_size=int(a["stored_size"]),
                    sha256=a["sha256"],
                    objects=[
                        StoredObject(o["key"], int(o["size"]), o["sha256"]) for o in a["objects"]
                    ],
                )
                for a in raw["artifacts"]
            ]
            optional = {"authentication"}
            fields = {
                k: raw[k]
                for k in cls.__dataclass_fields__
                if k != "artifacts" and (k not in optional or k in raw)
            }
            return cls(artifacts=artifacts, **fields)
        except CorruptBackupError:
            raise
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise CorruptBackupError(f"{where}: not a valid backup manifest ({exc!r})") from None
