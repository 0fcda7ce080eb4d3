"""The async WAL spool: what ``wal push`` acknowledges in async mode (real files, a real tmpfs
for the full disk)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from buttress.backup.wal.spool import (
    Spool,
    SpoolConflictError,
    SpoolError,
    SpoolFullError,
    SpoolRejectedError,
    queue_depth,
)

SEG1 = "000000010000000000000001"
SEG2 = "000000010000000000000002"
SEG3 = "000000010000000000000003"


def _wal(folder: Path, name: str, size: int = 64 << 10, fill: bytes = b"w") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes((fill * size)[:size])
    return path


def _out(spool: Spool) -> list[str]:
    return sorted(p.name for p in spool.out_dir.iterdir())


def test_put_spools_a_durable_copy_and_counts_it(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool", "db", 1 << 20)
    src = _wal(tmp_path / "pg_wal", SEG1)
    got = spool.put(src)
    assert not got.already
    assert (got.name.name, got.size) == (SEG1, 64 << 10)
    assert (spool.out_dir / SEG1).read_bytes() == src.read_bytes()
    assert _out(spool) == [SEG1]  # no temporary copy left
    assert queue_depth(tmp_path / "spool", "db") == (1, 64 << 10)


def test_the_same_content_again_succeeds_other_content_fails(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool", "db", 1 << 20)
    spool.put(_wal(tmp_path / "a", SEG1))
    assert spool.put(_wal(tmp_path / "b", SEG1)).already
    with pytest.raises(SpoolConflictError, match=f"already holds {SEG1} with other content"):
        spool.put(_wal(tmp_path / "c", SEG1, fill=b"x"))
    assert (spool.out_dir / SEG1).read_bytes() == (tmp_path / "a" / SEG1).read_bytes()
    assert _out(spool) == [SEG1]


def test_a_push_past_spool_max_is_refused_and_nothing_is_left(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool", "db", 100 << 10)
    spool.put(_wal(tmp_path / "pg_wal", SEG1))
    with pytest.raises(SpoolFullError, match="would pass spool_max_mb"):
        spool.put(_wal(tmp_path / "pg_wal", SEG2))
    assert _out(spool) == [SEG1]
    assert spool.depth() == (1, 64 << 10)


def test_a_full_disk_is_refused_and_nothing_is_acknowledged(
    tmp_path: Path, full_disk: Path
) -> None:
    spool = Spool(full_disk, "db", 1 << 30)  # the tmpfs holds 1 MiB
    spool.put(_wal(tmp_path / "pg_wal", SEG1, size=512 << 10))
    with pytest.raises(SpoolFullError, match="the disk is full while spooling"):
        spool.put(_wal(tmp_path / "pg_wal", SEG2, size=768 << 10))
    assert _out(spool) == [SEG1]
    assert spool.pending() == [spool.out_dir / SEG1]


def test_a_name_the_pusher_refused_is_reported_by_the_next_push(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool", "db", 1 << 20)
    spool.put(_wal(tmp_path / "pg_wal", SEG1))
    spool.reject(spool.out_dir / SEG1, "another content is archived under this name")
    assert _out(spool) == []
    assert spool.errors() == {SEG1: "another content is archived under this name"}
    with pytest.raises(SpoolRejectedError, match="another content is archived") as err:
        spool.put(_wal(tmp_path / "pg_wal", SEG1))
    assert str(spool.error_dir / SEG1) in str(err.value)
    assert _out(spool) == []
    (spool.error_dir / SEG1).unlink()  # the operator resolved it
    assert not spool.put(_wal(tmp_path / "pg_wal", SEG1)).already


def test_pending_is_in_name_order_without_unfinished_or_foreign_files(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool", "db", 1 << 20)
    for name in (SEG3, "00000002.history", SEG1, f"{SEG2}.00000028.backup", SEG2):
        spool.put(_wal(tmp_path / "pg_wal", name, size=10))
    (spool.out_dir / "notes.txt").write_text("x")
    dead = spool.out_dir / f".{SEG3}.999999999.tmp"  # a killed push's copy (no such process)
    dead.write_text("x")
    mine = spool.out_dir / f".{SEG3}.{os.getpid()}.tmp"
    mine.write_text("x")
    assert [p.name for p in spool.pending()] == [  # a new timeline's history after the old's
        SEG1,
        SEG2,
        f"{SEG2}.00000028.backup",
        SEG3,
        "00000002.history",
    ]
    assert [p.name for p in spool.pending(2)] == [SEG1, SEG2]
    assert spool.depth() == (5, 50)
    assert spool.clean_unfinished() == 1
    assert not dead.exists()
    assert mine.exists()


def test_bad_input_is_named(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool", "db", 1 << 20)
    with pytest.raises(SpoolError, match=r"'pg_hba\.conf' is not a WAL file name"):
        spool.put(_wal(tmp_path, "pg_hba.conf"))
    with pytest.raises(SpoolError, match=r"cannot read .*missing"):
        spool.put(tmp_path / "missing" / SEG1)
    assert not spool.out_dir.exists() or _out(spool) == []


@pytest.mark.root
def test_folders_root_makes_belong_to_the_spool_dirs_owner(tmp_path: Path) -> None:
    spool_dir = tmp_path / "spool"
    spool_dir.mkdir()
    os.chown(spool_dir, 4242, 4343)  # the tests run as root (they own private clusters)
    spool = Spool(spool_dir, "db", 1 << 20)
    spool.put(_wal(tmp_path / "pg_wal", SEG1))
    for folder in (spool.root, spool.out_dir, spool.error_dir, spool.in_dir):
        assert (folder.stat().st_uid, folder.stat().st_gid) == (4242, 4343)
