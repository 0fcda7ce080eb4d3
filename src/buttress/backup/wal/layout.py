"""Where archived WAL lives in a target's repository (in every destination of the target)::

    T/wal/archive.json                                  # the archive's identity (written once):
                                                        # system identifier, version, segment size
    T/wal/0000000100000000/000000010000000000000003-<tag>   # a segment, age(zstd(raw))
    T/wal/0000000100000000/000000010000000000000003.00000028.backup-<tag>
    T/wal/history/00000002.history-<tag>

``<tag>`` (64 hex digits) is an HMAC-SHA256, with the repository's manifest key, of the target,
the name and the SHA-256 of the raw file (what PostgreSQL handed over) — the SHA-256 itself
where there is no manifest key. As pgBackRest puts a checksum in its archive's names, a second
push of a name finds the first one's tag by listing, so the same content twice is a no-op and
different content is refused; a fetch checks what it decrypted against the tag, so a file
forged, altered or moved by someone without the key is refused. Each file is one object (a
segment is 16 MiB raw); ``cat <key> | age -d -i key.txt | zstd -d > 000000010000000000000003``
reads it with stock tools. Backups of the target (``T/<backup id>/...``) sit beside ``T/wal/``.
"""

from __future__ import annotations

import re

from buttress.backup.wal.names import DEFAULT_SEGMENT_SIZE, WalName, parse_name

__all__ = [
    "WAL_DIR",
    "folder_of",
    "info_key",
    "object_key",
    "parse_key",
    "prefix",
    "prefix_of",
]

WAL_DIR = "wal"
_SHA = re.compile(r"^[0-9a-f]{64}$")


def prefix(target: str) -> str:
    """Every archived WAL file of ``target`` is under this."""
    return f"{target}/{WAL_DIR}/"


def info_key(target: str) -> str:
    return f"{target}/{WAL_DIR}/archive.json"


def folder_of(target: str, name: WalName) -> str:
    """The folder ``name``'s copies are in (list it to find them)."""
    return f"{target}/{WAL_DIR}/{name.directory}/"


def prefix_of(target: str, name: WalName) -> str:
    """What the keys of every stored copy of ``name`` start with (list it to find them)."""
    return f"{target}/{WAL_DIR}/{name.directory}/{name.name}-"


def object_key(target: str, name: WalName, sha256: str) -> str:
    return prefix_of(target, name) + sha256


def parse_key(
    target: str, key: str, segment_size: int = DEFAULT_SEGMENT_SIZE
) -> tuple[WalName, str] | None:
    """``(name, sha256)`` of an archived WAL file's key; None for any other key (the info
    file, an unfinished write's leftover, a foreign object)."""
    head = prefix(target)
    if not key.startswith(head):
        return None
    parts = key[len(head) :].split("/")
    if len(parts) != 2:
        return None
    base, _, sha = parts[1].rpartition("-")
    if not _SHA.match(sha):
        return None
    try:
        name = parse_name(base, segment_size)
    except ValueError:
        return None
    if name.directory != parts[0]:
        return None
    return name, sha
