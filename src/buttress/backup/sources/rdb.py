"""Counting the keys of a Redis RDB file per database and type, without loading it: values are
skipped by their encoded lengths (seeks, not reads), so the cost is per key, not per byte.

Understands RDB versions 1-11 (Redis up to 7.2): every core type and encoding, streams with
their consumer groups, and module values of the self-describing ``MODULE_2`` format. A newer or
foreign file raises :class:`RdbError` naming what it could not read.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import BinaryIO

__all__ = ["RdbCounts", "RdbError", "count_keys"]

MAX_VERSION = 11

_TYPE_NAMES = {
    0: "string",
    1: "list",
    2: "set",
    3: "zset",
    4: "hash",
    5: "zset",
    6: "module",
    7: "module",
    9: "hash",
    10: "list",
    11: "set",
    12: "zset",
    13: "hash",
    14: "list",
    15: "stream",
    16: "hash",
    17: "zset",
    18: "list",
    19: "stream",
    20: "set",
    21: "stream",
}

_OP_FUNCTION2 = 0xF5
_OP_MODULE_AUX = 0xF7
_OP_IDLE = 0xF8
_OP_FREQ = 0xF9
_OP_AUX = 0xFA
_OP_RESIZEDB = 0xFB
_OP_EXPIRETIME_MS = 0xFC
_OP_EXPIRETIME = 0xFD
_OP_SELECTDB = 0xFE
_OP_EOF = 0xFF


class RdbError(ValueError):
    """The file is not an RDB this reader understands (the message says where and why)."""


@dataclass
class RdbCounts:
    version: int = 0
    # "db0" -> type -> keys
    keys: dict[str, dict[str, int]] = field(default_factory=dict)
    # "db0" -> keys carrying an expiry (they may be gone when the file is loaded later)
    volatile: dict[str, int] = field(default_factory=dict)


class _Reader:
    def __init__(self, f: BinaryIO) -> None:
        self.f = f

    def exact(self, n: int) -> bytes:
        data = self.f.read(n)
        if len(data) != n:
            raise RdbError(f"truncated RDB at offset {self.f.tell()}")
        return data

    def skip(self, n: int) -> None:
        self.f.seek(n, 1)

    def byte(self) -> int:
        return self.exact(1)[0]

    def length(self) -> tuple[int, bool]:
        """A length, or (special encoding, True)."""
        first = self.byte()
        kind = first >> 6
        if kind == 0:
            return first & 0x3F, False
        if kind == 1:
            return ((first & 0x3F) << 8) | self.byte(), False
        if kind == 2:
            if first == 0x80:
                return int(struct.unpack(">I", self.exact(4))[0]), False
            if first == 0x81:
                return int(struct.unpack(">Q", self.exact(8))[0]), False
            raise RdbError(f"bad length encoding {first:#x} at offset {self.f.tell() - 1}")
        return first & 0x3F, True

    def number(self) -> int:
        value, special = self.length()
        if special:
            raise RdbError(f"expected a length at offset {self.f.tell() - 1}")
        return value

    def skip_string(self) -> None:
        value, special = self.length()
        if not special:
            self.skip(value)
        elif value == 0:
            self.skip(1)
        elif value == 1:
            self.skip(2)
        elif value == 2:
            self.skip(4)
        elif value == 3:  # LZF: compressed length, then uncompressed length
            compressed = self.number()
            self.number()
            self.skip(compressed)
        else:
            raise RdbError(f"unknown string encoding {value} at offset {self.f.tell() - 1}")

    def skip_double_string(self) -> None:
        n = self.byte()
        if n < 253:
            self.skip(n)


def _skip_stream(r: _Reader, kind: int) -> None:
    for _ in range(r.number()):  # listpacks: master id + listpack
        r.skip_string()
        r.skip_string()
    r.number()  # length
    r.number()  # last id ms
    r.number()  # last id seq
    if kind >= 19:
        for _ in range(5):  # first id, max deleted id, entries added
            r.number()
    for _ in range(r.number()):  # consumer groups
        r.skip_string()
        r.number()
        r.number()
        if kind >= 19:
            r.number()  # entries read
        for _ in range(r.number()):  # group PEL: id, delivery time, delivery count
            r.skip(16 + 8)
            r.number()
        for _ in range(r.number()):  # consumers
            r.skip_string()
            r.skip(8)  # seen time
            if kind >= 21:
                r.skip(8)  # active time
            for _ in range(r.number()):
                r.skip(16)


def _skip_module(r: _Reader) -> None:
    r.number()  # module id
    _skip_module_aux(r)


def _skip_value(r: _Reader, kind: int) -> None:
    if kind == 0 or kind in (9, 10, 11, 12, 13, 16, 17, 20):
        r.skip_string()
    elif kind in (1, 2, 14):
        for _ in range(r.number()):
            r.skip_string()
    elif kind == 3:
        for _ in range(r.number()):
            r.skip_string()
            r.skip_double_string()
    elif kind == 4:
        for _ in range(r.number()):
            r.skip_string()
            r.skip_string()
    elif kind == 5:
        for _ in range(r.number()):
            r.skip_string()
            r.skip(8)
    elif kind == 18:
        for _ in range(r.number()):
            r.number()  # container
            r.skip_string()
    elif kind in (15, 19, 21):
        _skip_stream(r, kind)
    elif kind == 7:
        _skip_module(r)
    else:
        raise RdbError(
            f"value type {kind} at offset {r.f.tell() - 1} is not understood "
            f"(this reader knows RDB versions up to {MAX_VERSION})"
        )


def count_keys(f: BinaryIO) -> RdbCounts:
    """Keys per database and type (and keys with an expiry per database) in an RDB file."""
    r = _Reader(f)
    magic = r.exact(9)
    if magic[:5] != b"REDIS" or not magic[5:].isdigit():
        raise RdbError("not an RDB file (no REDIS header)")
    counts = RdbCounts(version=int(magic[5:]))
    if counts.version > MAX_VERSION:
        raise RdbError(
            f"RDB version {counts.version} is newer than this reader knows ({MAX_VERSION})"
        )
    db = "db0"
    expiring = False
    while True:
        op = r.byte()
        if op == _OP_EOF:
            return counts
        if op == _OP_SELECTDB:
            db = f"db{r.number()}"
        elif op == _OP_RESIZEDB:
            r.number()
            r.number()
        elif op == _OP_AUX:
            r.skip_string()
            r.skip_string()
        elif op == _OP_FUNCTION2:
            r.skip_string()
        elif op == _OP_MODULE_AUX:
            r.number()  # module id
            r.number()  # when
            _skip_module_aux(r)
        elif op == _OP_EXPIRETIME_MS:
            r.skip(8)
            expiring = True
        elif op == _OP_EXPIRETIME:
            r.skip(4)
            expiring = True
        elif op == _OP_IDLE:
            r.number()
        elif op == _OP_FREQ:
            r.skip(1)
        else:
            name = _TYPE_NAMES.get(op)
            if name is None:
                raise RdbError(
                    f"value type {op} at offset {r.f.tell() - 1} is not understood "
                    f"(this reader knows RDB versions up to {MAX_VERSION})"
                )
            r.skip_string()  # the key
            _skip_value(r, op)
            per_db = counts.keys.setdefault(db, {})
            per_db[name] = per_db.get(name, 0) + 1
            if expiring:
                counts.volatile[db] = counts.volatile.get(db, 0) + 1
            expiring = False


def _skip_module_aux(r: _Reader) -> None:
    while True:
        opcode = r.number()
        if opcode == 0:
            return
        if opcode in (1, 2):
            r.number()
        elif opcode == 3:
            r.skip(4)
        elif opcode == 4:
            r.skip(8)
        elif opcode == 5:
            r.skip_string()
        else:
            raise RdbError(f"unknown module opcode {opcode} at offset {r.f.tell()}")
