"""A tar stream passed through unchanged while its headers are read: the small members asked
for are kept (``backup_label``, ``backup_manifest``...), the others are counted and skipped.

Tar is 512-byte blocks: a header (name, octal or base-256 size, type flag, checksum), then the
member's data padded to a block. pax (``x``, ``g``) and GNU long-name (``L``, ``K``) members
carry the next member's real name; their data is read for it and never counted as a member.
"""

from __future__ import annotations

import re
from typing import BinaryIO

__all__ = ["TarScanner"]

BLOCK = 512
_META_MAX = 1 << 16  # a pax or long-name record longer than this is skipped unread
_PAX_PATH = re.compile(rb"\d+ path=([^\n]*)\n")


def _number(field: bytes) -> int:
    """A header's numeric field: octal text, or GNU base-256 (high bit set)."""
    if field and field[0] & 0x80:
        return int.from_bytes(bytes([field[0] & 0x7F]) + field[1:], "big")
    text = field.split(b"\0", 1)[0].strip()
    return int(text, 8) if text else 0


def _checksum_ok(header: bytes) -> bool:
    stored = header[148:156].split(b"\0", 1)[0].strip()
    if not stored:
        return False
    total = sum(header[:148]) + 8 * 32 + sum(header[156:])
    try:
        return int(stored, 8) == total
    except ValueError:
        return False


class TarScanner:
    """Reads ``raw`` for its caller, watching the tar in it.

    Args:
        raw: the tar stream (anything with ``read(n)``).
        keep: member names (without a leading ``./``) to keep, each with the largest size
            kept (a larger one is only counted).

    After the stream is read to its end: :attr:`captured` (name -> bytes), the database OIDs
    of the folders under ``base/`` (:attr:`oids`), :attr:`members` (counted), and
    :attr:`problem` (why the stream stopped looking like a tar; "" when it did not).
    """

    def __init__(self, raw: BinaryIO, keep: dict[str, int]) -> None:
        self.raw = raw
        self.keep = keep
        self.captured: dict[str, bytes] = {}
        self.oids: set[int] = set()
        self.members = 0
        self.problem = ""
        self._header = bytearray()
        self._left = 0  # data (and padding) bytes of the current member still to pass
        self._data_left = 0  # of them, data bytes still to keep
        self._kept: bytearray | None = None
        self._kind = b""  # the current member's type flag
        self._name = ""
        self._next_name: str | None = None  # from a pax/long-name member

    def read(self, n: int = -1) -> bytes:
        data = self.raw.read(n)
        if data and not self.problem:
            self._scan(memoryview(data))
        return data

    def _scan(self, view: memoryview) -> None:
        while view:
            if self._left:
                take = min(self._left, len(view))
                if self._kept is not None and self._data_left:
                    part = min(take, self._data_left)
                    self._kept += view[:part]
                    self._data_left -= part
                self._left -= take
                view = view[take:]
                if not self._left:
                    self._done()
                continue
            need = BLOCK - len(self._header)
            self._header += view[:need]
            view = view[need:]
            if len(self._header) == BLOCK:
                header, self._header = bytes(self._header), bytearray()
                self._begin(header)
                if self.problem:
                    return

    def _begin(self, header: bytes) -> None:
        if not any(header):
            return  # the end-of-archive blocks
        if not _checksum_ok(header):
            self.problem = f"a tar header after member {self.members} has a bad checksum"
            return
        name = header[:100].split(b"\0", 1)[0]
        if header[257:262] == b"ustar" and header[345]:
            name = header[345:500].split(b"\0", 1)[0] + b"/" + name
        size = _number(header[124:136])
        self._kind = header[156:157]
        self._left = -(-size // BLOCK) * BLOCK
        self._kept = None
        self._data_left = 0
        if self._kind in (b"x", b"g", b"L", b"K"):
            if size <= _META_MAX:
                self._kept, self._data_left = bytearray(), size
        else:
            text = self._next_name or name.decode(errors="replace")
            self._next_name = None
            self._name = text[2:] if text.startswith("./") else text
            self.members += 1
            self._note(self._name)
            limit = self.keep.get(self._name.rstrip("/"))
            if limit is not None and size <= limit:
                self._kept, self._data_left = bytearray(), size
        if not self._left:
            self._done()

    def _note(self, name: str) -> None:
        parts = name.split("/")
        if len(parts) >= 2 and parts[0] == "base" and parts[1].isdigit():
            self.oids.add(int(parts[1]))

    def _done(self) -> None:
        kept, self._kept = self._kept, None
        if kept is None:
            return
        if self._kind == b"L":
            self._next_name = bytes(kept).split(b"\0", 1)[0].decode(errors="replace")
        elif self._kind == b"x":
            found = _PAX_PATH.search(bytes(kept))
            if found:
                self._next_name = found.group(1).decode(errors="replace")
        elif self._kind not in (b"g", b"K"):
            self.captured[self._name.rstrip("/")] = bytes(kept)
