"""Where archived binlogs live in a target's repository (in every destination of the target)::

    T/binlog/binlog.000042-<sha256>     # one binlog file, age(zstd(raw)), one object

``<sha256>`` is the SHA-256 of the raw file: storing the same file twice is a no-op, and a
restore checks what it decrypted against the name. The file being written when the pusher
stopped is stored as it was then; once finished it is stored again, whole, under its new
checksum: of several objects of one name the largest is the file (the others are its
prefixes). ``cat <key> | age -d -i key.txt | zstd -d > binlog.000042`` reads one with stock
tools. Backups of the target (``T/<backup id>/...``) sit beside ``T/binlog/``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["BINLOG_DIR", "BinlogName", "object_key", "parse_key", "parse_name", "prefix"]

BINLOG_DIR = "binlog"
_NAME = re.compile(r"^([A-Za-z0-9_][A-Za-z0-9_.-]*)\.(\d{6,})$")
_SHA = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True, order=True)
class BinlogName:
    """A binlog file's name, ``<base>.<number>`` (``binlog.000042``)."""

    base: str
    number: int
    name: str

    def follows(self, other: BinlogName) -> bool:
        """Whether this file is the one the server wrote right after ``other``."""
        return self.base == other.base and self.number == other.number + 1


def parse_name(name: str) -> BinlogName:
    """``binlog.000042`` as a :class:`BinlogName`; ValueError for anything else."""
    m = _NAME.match(name)
    if not m:
        raise ValueError(f"{name!r} is not a binlog file name (<base>.<number>)")
    return BinlogName(m.group(1), int(m.group(2)), name)


def prefix(target: str) -> str:
    """Every archived binlog of ``target`` is under this."""
    return f"{target}/{BINLOG_DIR}/"


def object_key(target: str, name: str, sha256: str) -> str:
    return f"{prefix(target)}{name}-{sha256}"


def parse_key(target: str, key: str) -> tuple[BinlogName, str] | None:
    """``(name, sha256)`` of an archived binlog's key; None for any other key (an unfinished
    write's leftover, a foreign object)."""
    head = prefix(target)
    if not key.startswith(head) or "/" in key[len(head) :]:
        return None
    base, _, sha = key[len(head) :].rpartition("-")
    if not _SHA.match(sha):
        return None
    try:
        return parse_name(base), sha
    except ValueError:
        return None
