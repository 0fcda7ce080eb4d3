"""A WAL segment's first page header: which cluster wrote it and where it belongs.

Every segment starts with a long page header (``XLogLongPageHeaderData``, little-endian here):
``xlp_magic`` (the WAL format, one per PostgreSQL major version), ``xlp_info`` (bit 2: long
header), ``xlp_tli``, ``xlp_pageaddr`` (the LSN the page starts at: the segment's own start),
``xlp_rem_len``, then ``xlp_sysid`` (the cluster's system identifier), ``xlp_seg_size`` and
``xlp_xlog_blcksz``. A push checks it against the name it is archived under and the archive's
identity, and so does a fetch: a segment renamed, swapped, or from another server is refused.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from buttress.backup.wal.errors import WalIdentityError
from buttress.backup.wal.names import WalName

__all__ = ["SegmentHeader", "check_segment", "read_header"]

_STD = struct.Struct("<HHIQI4x")
_LONG = struct.Struct("<QII")
XLP_LONG_HEADER = 0x0002
SIZE = _STD.size + _LONG.size  # 40


@dataclass(frozen=True)
class SegmentHeader:
    magic: int
    timeline: int
    pageaddr: int
    system_identifier: int
    segment_size: int
    block_size: int


def read_header(data: bytes, where: str) -> SegmentHeader:
    """The long page header at the start of ``data``; WalIdentityError when it is none."""
    if len(data) < SIZE:
        raise WalIdentityError(f"{where}: {len(data)} bytes, too short for a WAL segment")
    magic, info, tli, pageaddr, _rem = _STD.unpack_from(data, 0)
    if not info & XLP_LONG_HEADER:
        raise WalIdentityError(f"{where}: does not start with a WAL segment's long page header")
    sysid, seg_size, blcksz = _LONG.unpack_from(data, _STD.size)
    return SegmentHeader(magic, tli, pageaddr, sysid, seg_size, blcksz)


def check_segment(data: bytes, name: WalName, where: str) -> SegmentHeader:
    """The header of segment (or partial segment) ``name``, checked against the name: its
    size, its start address and its timeline (a new timeline's first segment may begin with
    its parent's pages, so the header's timeline may be lower, never higher)."""
    header = read_header(data, where)
    if header.segment_size <= 0 or len(data) != header.segment_size:
        raise WalIdentityError(
            f"{where}: {len(data)} bytes, its header says segments of {header.segment_size}"
        )
    if header.pageaddr != name.segno * header.segment_size:
        raise WalIdentityError(
            f"{where}: its header says it starts at {header.pageaddr:X}, the name "
            f"{name.name} at {name.segno * header.segment_size:X} (renamed or swapped?)"
        )
    if header.timeline > name.timeline:
        raise WalIdentityError(
            f"{where}: written on timeline {header.timeline}, named for timeline {name.timeline}"
        )
    return header
