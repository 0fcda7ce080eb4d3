"""The streaming tar scanner: a tar passes through unchanged, read in any chunk sizes, with the
members asked for kept, pax and GNU long names followed, and a stream that is not a tar
noticed."""

from __future__ import annotations

import io
import tarfile

import pytest

from buttress.backup.sources.tar_scan import TarScanner


def _tar(members: dict[str, bytes], fmt: int) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=fmt) as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def _scan(data: bytes, keep: dict[str, int], chunk: int) -> tuple[TarScanner, bytes]:
    scanner = TarScanner(io.BytesIO(data), keep)
    passed = b""
    while part := scanner.read(chunk):
        passed += part
    return scanner, passed


LONG = "base/16384/" + "x" * 150  # longer than a ustar name field


@pytest.mark.parametrize("fmt", [tarfile.PAX_FORMAT, tarfile.GNU_FORMAT, tarfile.USTAR_FORMAT])
@pytest.mark.parametrize("chunk", [1, 511, 512, 4096, 1 << 20])
def test_kept_members_and_oids_whatever_the_chunks(fmt: int, chunk: int) -> None:
    """Whatever the format and the read sizes, the stream passes unchanged and the kept
    members, the member count and the databases under base/ are found."""
    members = {
        "./backup_label": b"START WAL LOCATION: 0/2000028 (file 000000010000000000000002)\n",
        "base/1/1259": b"\0" * 9000,
        "base/5/": b"",
        "backup_manifest": b'{"Files": []}',
        "big": b"y" * 3000,
    }
    if fmt != tarfile.USTAR_FORMAT:
        members[LONG] = b"z" * 700
    data = _tar(members, fmt)
    scanner, passed = _scan(data, {"backup_label": 1000, "backup_manifest": 1000, "big": 10}, chunk)
    assert passed == data
    assert scanner.problem == ""
    assert scanner.captured == {
        "backup_label": members["./backup_label"],
        "backup_manifest": members["backup_manifest"],
    }  # "big" is larger than asked: counted, not kept
    assert scanner.members == len(members)
    assert scanner.oids == ({1, 5, 16384} if fmt != tarfile.USTAR_FORMAT else {1, 5})


def test_a_long_name_is_the_next_members_name() -> None:
    """A member named through a pax or GNU long-name record is kept under its long name."""
    for fmt in (tarfile.PAX_FORMAT, tarfile.GNU_FORMAT):
        data = _tar({LONG: b"hello"}, fmt)
        scanner, _ = _scan(data, {LONG: 100}, 512)
        assert scanner.captured == {LONG: b"hello"}, fmt


def test_a_stream_that_is_not_a_tar_is_noticed() -> None:
    """Bytes whose header checksum is wrong are passed on, with the problem said."""
    data = b"not a tar at all" * 100
    scanner, passed = _scan(data, {}, 4096)
    assert passed == data
    assert "bad checksum" in scanner.problem
