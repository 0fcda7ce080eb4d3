"""The head of a pg_dump custom-format archive: its header and table of contents, read from the
start of a stream, and where each data block ends.

A custom-format archive written to a pipe is: the header, the table of contents (TOC: one entry
per object, in restore order, with its section and, for table data, its ``COPY`` statement), then
one data block per entry that had data (``TABLE DATA``, ``BLOBS``), in TOC order. A block is a
type byte, the entry's dump id, chunks (a length, then that many bytes) and a zero length. The
parallel restore (:mod:`buttress.backup.sources.pg_parallel`) needs only the TOC and the block
boundaries; pg_restore does everything else. Field order follows pg_dump's
``pg_backup_archiver.c`` (ReadHead, ReadToc) for archive versions 1.12 (PostgreSQL 9.0) to 1.16
(PostgreSQL 17).
"""

from __future__ import annotations

from dataclasses import dataclass

from buttress.backup.errors import CorruptBackupError

__all__ = [
    "BLOCK_END",
    "ArchiveHead",
    "Short",
    "TocEntry",
    "block_header",
    "block_start",
    "read_head",
    "row_cut",
]

MAGIC = b"PGDMP"
FORMAT_CUSTOM = 1
BLK_DATA = 1
SECTION_NONE, SECTION_PRE_DATA, SECTION_DATA, SECTION_POST_DATA = 1, 2, 3, 4
OLDEST, NEWEST = (1, 12), (1, 16)

BLOCK_END = b"\x00" * 5
"""A zero-length chunk (sign byte, 4-byte length) ends a block. Uncompressed table data is
``COPY`` text, which never holds a NUL byte, and a chunk's length is never zero, so in a block of
4-byte lengths these five zero bytes occur only at its end."""


class Short(Exception):
    """The stream has not yet delivered the whole head."""


@dataclass(frozen=True)
class TocEntry:
    dump_id: int
    had_dumper: bool
    tag: str
    desc: str
    section: int
    copy_stmt: str
    namespace: str
    deps: tuple[int, ...] = ()


@dataclass(frozen=True)
class ArchiveHead:
    version: tuple[int, int, int]
    int_size: int
    compressed: bool
    entries: list[TocEntry]
    size: int  # bytes of header + TOC: where the first data block starts

    def block_header_size(self) -> int:
        return 1 + 1 + self.int_size


class _Reader:
    def __init__(self, data: bytes | bytearray | memoryview) -> None:
        self.data = data
        self.pos = 0
        self.int_size = 4

    def byte(self) -> int:
        if self.pos >= len(self.data):
            raise Short
        value = self.data[self.pos]
        self.pos += 1
        return int(value)

    def integer(self) -> int:
        end = self.pos + 1 + self.int_size
        if end > len(self.data):
            raise Short
        sign = self.data[self.pos]
        value = int.from_bytes(self.data[self.pos + 1 : end], "little")
        self.pos = end
        return -value if sign else value

    def string(self) -> str | None:
        length = self.integer()
        if length < 0:
            return None
        end = self.pos + length
        if end > len(self.data):
            raise Short
        text = bytes(self.data[self.pos : end]).decode("utf-8", errors="replace")
        self.pos = end
        return text

    def skip(self, count: int) -> None:
        if self.pos + count > len(self.data):
            raise Short
        self.pos += count


def read_head(data: bytes | bytearray | memoryview) -> ArchiveHead:
    """Parse header and TOC from the start of ``data``.

    Raises:
        Short: ``data`` ends before the TOC does (read more, then try again).
        CorruptBackupError: not a custom-format archive, or a version this code does not know.
    """
    r = _Reader(data)
    if len(data) < 5 + 6:
        raise Short
    if bytes(data[:5]) != MAGIC:
        raise CorruptBackupError("postgresql dump: not a pg_dump custom-format archive")
    r.pos = 5
    version = (r.byte(), r.byte(), r.byte())
    if not OLDEST <= version[:2] <= NEWEST:
        raise CorruptBackupError(
            f"postgresql dump: archive version {'.'.join(map(str, version))} is not one of "
            f"1.{OLDEST[1]}-1.{NEWEST[1]}"
        )
    r.int_size = r.byte()
    offset_size = r.byte()
    if r.byte() != FORMAT_CUSTOM:
        raise CorruptBackupError("postgresql dump: not a custom-format archive")
    if not (1 <= r.int_size <= 8 and 1 <= offset_size <= 16):
        raise CorruptBackupError("postgresql dump: implausible integer sizes in the header")
    compressed = r.byte() != 0 if version[:2] >= (1, 15) else r.integer() != 0
    for _ in range(7):  # creation time: sec, min, hour, mday, mon, year, isdst
        r.integer()
    r.string()  # database name
    r.string()  # server version
    r.string()  # pg_dump version
    count = r.integer()
    if count < 0:
        raise CorruptBackupError("postgresql dump: negative TOC size")
    entries = []
    for _ in range(count):
        dump_id = r.integer()
        if dump_id <= 0:
            raise CorruptBackupError(f"postgresql dump: TOC entry id {dump_id} out of range")
        had_dumper = r.integer() != 0
        r.string()  # catalog table oid
        r.string()  # oid
        tag = r.string() or ""
        desc = r.string() or ""
        section = r.integer()
        r.string()  # definition
        r.string()  # drop statement
        copy_stmt = r.string() or ""
        namespace = r.string() or ""
        r.string()  # tablespace
        if version[:2] >= (1, 14):
            r.string()  # table access method
        if version[:2] >= (1, 16):
            r.integer()  # relkind
        r.string()  # owner
        r.string()  # "false": WITH OIDS
        deps = []
        while (dep := r.string()) is not None:  # dependencies, ended by a null string
            deps.append(int(dep) if dep.isdigit() else 0)
        r.byte()  # data offset flag, then the offset
        r.skip(offset_size)
        entries.append(
            TocEntry(dump_id, had_dumper, tag, desc, section, copy_stmt, namespace, tuple(deps))
        )
    return ArchiveHead(version, r.int_size, compressed, entries, r.pos)


def block_start(head: ArchiveHead, data: bytes | bytearray | memoryview, pos: int) -> int:
    """The dump id of the data block whose header starts at ``pos``.

    Raises:
        Short: fewer bytes than a block header.
        CorruptBackupError: not a table-data block header.
    """
    r = _Reader(data)
    r.int_size, r.pos = head.int_size, pos
    kind = r.byte()
    dump_id = r.integer()
    if kind != BLK_DATA:
        raise CorruptBackupError(
            f"postgresql dump: data block of type {kind} (expected table data)"
        )
    return dump_id


def block_header(head: ArchiveHead, dump_id: int) -> bytes:
    """The header of a table-data block for ``dump_id``, as pg_dump writes it (type byte, then
    the id as a sign byte and ``int_size`` little-endian bytes)."""
    return bytes((BLK_DATA, 0)) + dump_id.to_bytes(head.int_size, "little")


def row_cut(data: bytes | bytearray, start: int = 1) -> int:
    """The first place at or after ``start`` in ``data`` (bytes inside a block of ``COPY`` text
    with 4-byte lengths) where a chunk begins right after a whole row; -1 if none is proven.

    pg_dump writes each row ``COPY`` sends as one chunk, so the block can be cut there into two
    blocks of whole rows, each loadable on its own. ``COPY`` text holds no NUL byte and no
    newline except at a row's end, so a chunk begins at a NUL that follows a newline; a length
    byte of the chunk header can look like that too, so a place counts only when the two
    chunks read from it (lengths, no NUL inside, each ending in a newline, a NUL after) are
    whole in ``data``.
    """
    n = len(data)
    pos = max(start, 1) - 1
    while (at := data.find(b"\n\x00", pos)) >= 0:
        cut = at + 1
        if _chunks_from(data, cut, n):
            return cut
        pos = cut
    return -1


def _chunks_from(data: bytes | bytearray, at: int, n: int) -> bool:
    for chunk in range(2):
        if at + 5 > n or data[at] != 0:
            return False
        length = int.from_bytes(data[at + 1 : at + 5], "little")
        if length == 0:
            return chunk > 0  # the block's end after a whole chunk
        end = at + 5 + length
        if end >= n or data[end - 1] != 0x0A or data[end] != 0:
            return False
        if data.find(b"\x00", at + 5, end) >= 0:
            return False
        at = end
    return True
