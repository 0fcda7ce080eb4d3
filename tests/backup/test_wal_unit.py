"""WalArchive without a server: synthetic segments with real long page headers, so the checks
on names, placement and identity run in milliseconds (the real-cluster tests are in
test_wal_archive.py)."""

from __future__ import annotations

import os
import struct
import threading
from pathlib import Path

import pytest

from buttress.backup.destinations import LocalDestination
from buttress.backup.errors import CorruptBackupError
from buttress.backup.pipeline import Settings
from buttress.backup.wal import layout
from buttress.backup.wal.archive import WalArchive
from buttress.backup.wal.errors import WalConflictError, WalIdentityError, WalMissingError
from buttress.backup.wal.names import parse_name, segment_name
from tests.backup.conftest import Keys

SIZE = 16 << 20
SYSID = 7_300_000_000_000_000_001
MAGIC = 0xD110


def segment(segno: int, sysid: int = SYSID, timeline: int = 1) -> bytes:
    header = struct.pack("<HHIQI4x", MAGIC, 0x0002, timeline, segno * SIZE, 0)
    header += struct.pack("<QII", sysid, SIZE, 8192)
    return header + os.urandom(4096) + bytes(SIZE - len(header) - 4096)


def _write(folder: Path, segno: int, **kw: int) -> Path:
    path = folder / segment_name(kw.get("timeline", 1), segno)
    path.write_bytes(segment(segno, **kw))
    return path


@pytest.fixture
def archive(tmp_path: Path, keys: Keys) -> WalArchive:
    settings = Settings(keys.recipients, level=1, manifest_key=b"k" * 32)
    dest = LocalDestination("local", tmp_path / "repo")
    return WalArchive("pg", [dest], settings, keys.identities)


def test_push_then_read_back(archive: WalArchive, tmp_path: Path) -> None:
    path = _write(tmp_path, 3)
    result = archive.push(path)
    assert (result.name.name, result.already) == (path.name, False)
    assert archive.read(path.name)[0] == path.read_bytes()
    assert archive.push(path).already


def test_a_swapped_object_is_refused_on_read(archive: WalArchive, tmp_path: Path) -> None:
    """Renaming segment 4's object to segment 5's name (checksum and all) is caught by the
    page header: segment 5 must start at 5 x 16 MiB."""
    four = archive.push(_write(tmp_path, 4))
    repo = tmp_path / "repo"
    source = repo / layout.object_key("pg", four.name, four.sha256)
    five = parse_name(segment_name(1, 5))
    forged = repo / layout.object_key("pg", five, four.sha256)
    forged.parent.mkdir(parents=True, exist_ok=True)
    forged.write_bytes(source.read_bytes())
    with pytest.raises(CorruptBackupError, match="renamed or swapped"):
        archive.read(five.name)


def test_a_misnamed_push_is_refused(archive: WalArchive, tmp_path: Path) -> None:
    path = tmp_path / segment_name(1, 7)
    path.write_bytes(segment(6))
    with pytest.raises(WalIdentityError, match="renamed or swapped"):
        archive.push(path)
    with pytest.raises(WalMissingError):
        archive.read(path.name)


def test_not_a_segment_and_not_a_wal_name(archive: WalArchive, tmp_path: Path) -> None:
    short = tmp_path / segment_name(1, 2)
    short.write_bytes(b"x" * 100)
    with pytest.raises(WalIdentityError, match=r"too short|long page header"):
        archive.push(short)
    odd = tmp_path / "backup_label"
    odd.write_text("x")
    with pytest.raises(WalIdentityError, match="is not a WAL file name"):
        archive.push(odd)


def test_other_content_under_a_name_is_a_conflict(archive: WalArchive, tmp_path: Path) -> None:
    archive.push(_write(tmp_path, 2))
    again = tmp_path / "again"
    again.mkdir()
    with pytest.raises(WalConflictError, match="other content"):
        archive.push(_write(again, 2))


def test_history_files_and_a_second_cluster(archive: WalArchive, tmp_path: Path) -> None:
    history = tmp_path / "00000002.history"
    history.write_text("1\t0/3000000\tno recovery target specified\n")
    assert archive.push(history).name.kind == "history"
    assert archive.info() is None  # only a segment says whose archive it is
    archive.push(_write(tmp_path, 2))
    info = archive.info()
    assert info is not None
    assert info.system_identifier == str(SYSID)
    stray = tmp_path / "stray"
    stray.mkdir()
    with pytest.raises(WalIdentityError, match="two servers archive into one target"):
        archive.push(_write(stray, 9, sysid=SYSID + 1))
    assert archive.read("00000002.history")[0] == history.read_bytes()


def test_an_altered_identity_is_refused(archive: WalArchive, tmp_path: Path) -> None:
    archive.push(_write(tmp_path, 2))
    info = tmp_path / "repo" / layout.info_key("pg")
    info.write_text(info.read_text().replace(str(SYSID), str(SYSID + 1)))
    fresh = WalArchive("pg", archive.destinations, archive.settings, archive.identities)
    with pytest.raises(CorruptBackupError, match="MAC does not match"):
        fresh.info()


def test_first_pushes_at_once_agree_on_one_passphrase_key(tmp_path: Path) -> None:
    """The pusher's workers push their first segments together: one archive.json, one sealed
    key, and every segment opens with the passphrase alone."""
    settings = Settings([], passphrase="correct horse", level=1, manifest_key=b"k" * 32)
    dest = LocalDestination("local", tmp_path / "repo")
    paths = [_write(tmp_path, n) for n in range(2, 6)]
    workers = [WalArchive("pg", [dest], settings) for _ in paths]
    errors: list[BaseException] = []

    def push(a: WalArchive, p: Path) -> None:
        try:
            a.push(p)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [
        threading.Thread(target=push, args=pair) for pair in zip(workers, paths, strict=True)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    reader = WalArchive("pg", [dest], settings)
    for p in paths:
        assert reader.read(p.name)[0] == p.read_bytes()
