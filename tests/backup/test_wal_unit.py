"""WalArchive without a server: synthetic segments with real long page headers, so the checks
on names, placement and identity run in milliseconds (the real-cluster tests are in
test_wal_archive.py)."""

from __future__ import annotations

import os
import struct
import threading
from dataclasses import replace
from pathlib import Path

import pytest

from buttress.backup.destinations import LocalDestination
from buttress.backup.errors import CorruptBackupError
from buttress.backup.pipeline import Settings
from buttress.backup.s3 import S3Destination
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


def _plant(archive: WalArchive, tmp_path: Path, name: str, tag: str, stored: bytes) -> None:
    key = tmp_path / "repo" / layout.object_key("pg", parse_name(name), tag)
    key.parent.mkdir(parents=True, exist_ok=True)
    key.write_bytes(stored)


def test_a_swapped_object_is_refused_on_read(archive: WalArchive, tmp_path: Path) -> None:
    """Segment 4's object copied under segment 5's name, tag and all: its tag is not
    segment 5's (the MAC covers the name); without a manifest key, the page header catches
    it (segment 5 must start at 5 x 16 MiB)."""
    four = archive.push(_write(tmp_path, 4))
    tag = archive.tag(four.name.name, four.sha256)
    source = tmp_path / "repo" / layout.object_key("pg", four.name, tag)
    _plant(archive, tmp_path, segment_name(1, 5), tag, source.read_bytes())
    with pytest.raises(CorruptBackupError, match="not authentic"):
        archive.read(segment_name(1, 5))
    unkeyed = WalArchive(
        "pg", archive.destinations, replace(archive.settings, manifest_key=None),
        archive.identities,
    )  # fmt: skip
    _plant(archive, tmp_path, segment_name(1, 6), four.sha256, source.read_bytes())
    with pytest.raises(CorruptBackupError, match="renamed or swapped"):
        unkeyed.read(segment_name(1, 6))


def test_a_forged_segment_is_refused(archive: WalArchive, tmp_path: Path, keys: Keys) -> None:
    """Anyone can encrypt to the public recipient and name a file with its SHA-256: without
    the manifest key they cannot make its tag, and fetch refuses it."""
    import hashlib

    import pyrage
    import zstandard

    archive.push(_write(tmp_path, 2))  # the archive exists, with its identity
    forged = segment(7)  # a valid header for segment 7 of this cluster
    stored = pyrage.encrypt(zstandard.ZstdCompressor().compress(forged), keys.recipients)
    _plant(archive, tmp_path, segment_name(1, 7), hashlib.sha256(forged).hexdigest(), stored)
    with pytest.raises(CorruptBackupError, match="not authentic"):
        archive.read(segment_name(1, 7))


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


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # closed again: connections are refused


def test_a_destination_down_is_not_a_missing_segment(
    archive: WalArchive, tmp_path: Path, keys: Keys
) -> None:
    """A segment stored in one destination only (``required`` 1), that destination down at
    restore time, the other reachable without it: not "missing" (exit 1, PostgreSQL would end
    recovery there and promote at the wrong point) but an error that stops recovery."""
    from buttress.backup.s3 import S3Destination, S3Settings
    from buttress.backup.wal.errors import WalError

    path = _write(tmp_path, 3)
    archive.push(path)
    down = S3Destination(
        "offsite",
        S3Settings(
            bucket="wal",
            endpoint_url=f"http://127.0.0.1:{_closed_port()}",
            access_key_id="testing",
            secret_access_key="testing-secret",
            max_attempts=1,
            connect_timeout=1,
        ),
    )
    other = LocalDestination("local2", tmp_path / "other")
    reader = WalArchive("pg", [down, other], archive.settings, archive.identities)
    with pytest.raises(WalError) as caught:
        reader.read(path.name)
    assert not isinstance(caught.value, WalMissingError)
    assert "offsite" in str(caught.value)
    down.close()


def test_no_new_identity_while_a_destination_holding_it_is_down(
    s3_dest: S3Destination, tmp_path: Path
) -> None:
    """archive.json (with the sealed passphrase key) is in destination s3 only; s3 is down
    and a newly added destination is empty: a push must not write a second identity (another
    sealed key: the WAL pushed then would not open with the first one, and a put over a
    flaky read would replace the only copy of the key)."""
    from buttress.backup.s3 import S3Destination, S3Settings
    from buttress.backup.wal.errors import WalError

    settings = Settings([], passphrase="correct horse", level=1, manifest_key=b"k" * 32)
    WalArchive("pg", [s3_dest], settings).push(_write(tmp_path, 2))
    down = S3Destination(
        "s3",
        S3Settings(
            bucket=s3_dest.settings.bucket,
            prefix=s3_dest.settings.prefix,
            endpoint_url=f"http://127.0.0.1:{_closed_port()}",
            access_key_id="testing",
            secret_access_key="testing-secret",
            max_attempts=1,
            connect_timeout=1,
        ),
    )
    added = LocalDestination("added", tmp_path / "added")
    pushing = WalArchive("pg", [down, added], replace(settings, required=1))
    with pytest.raises(WalError, match="identity could not be read"):
        pushing.push(_write(tmp_path, 3))
    assert not (tmp_path / "added" / layout.info_key("pg")).exists()
    down.close()


def test_a_damaged_identity_in_one_destination_is_read_from_another(
    tmp_path: Path, keys: Keys
) -> None:
    """archive.json damaged in the first destination only: pushes and fetches go on with
    the good copy of the second (a bit flipped in one copy must not stop archiving, nor a
    restore); damaged in every one, they are refused."""
    settings = Settings(keys.recipients, level=1, manifest_key=b"k" * 32)
    dests = [LocalDestination(n, tmp_path / n) for n in ("local", "offsite")]
    WalArchive("pg", dests, settings, keys.identities).push(_write(tmp_path, 2))
    first = tmp_path / "local" / layout.info_key("pg")
    first.write_text(first.read_text().replace(str(SYSID), str(SYSID + 1)))
    fresh = WalArchive("pg", dests, settings, keys.identities)
    fresh.push(_write(tmp_path, 3))
    assert fresh.read(segment_name(1, 2))[0] == (tmp_path / segment_name(1, 2)).read_bytes()
    second = tmp_path / "offsite" / layout.info_key("pg")
    second.write_text("{not json")
    with pytest.raises(CorruptBackupError, match=r"MAC does not match.*not a WAL archive"):
        WalArchive("pg", dests, settings, keys.identities).info()
