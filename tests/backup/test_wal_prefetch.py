"""What ``wal fetch`` takes from the prefetched segments in the spool (real files)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from buttress.backup.wal.prefetch import prefetch_lock, take
from buttress.backup.wal.spool import Spool

TL1 = "00000001000000000000000{}"
TL2 = "00000002000000000000000{}"


def _prefetched(spool: Spool, name: str, content: bytes, sha: str | None = None) -> Path:
    spool.in_dir.mkdir(parents=True, exist_ok=True)
    path = spool.in_dir / f"{name}-{sha or hashlib.sha256(content).hexdigest()}"
    path.write_bytes(content)
    return path


def _left(spool: Spool) -> list[str]:
    return sorted(p.name.rpartition("-")[0] for p in spool.in_dir.iterdir() if p.name[0] != ".")


def test_a_prefetched_segment_is_moved_into_place(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool", "db", 1 << 20)
    content = os.urandom(4096)
    _prefetched(spool, TL1.format(4), content)
    (tmp_path / "pg_wal").mkdir()
    out = tmp_path / "pg_wal" / "RECOVERYXLOG"
    assert take(spool, TL1.format(4), out)
    assert out.read_bytes() == content
    assert _left(spool) == []
    assert [p.name for p in out.parent.iterdir()] == ["RECOVERYXLOG"]  # no temporary left


def test_a_damaged_prefetched_copy_is_removed_not_served(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool", "db", 1 << 20)
    _prefetched(spool, TL1.format(4), b"flipped", sha=hashlib.sha256(b"original").hexdigest())
    out = tmp_path / "RECOVERYXLOG"
    assert not take(spool, TL1.format(4), out)
    assert not out.exists()
    assert _left(spool) == []


def test_segments_recovery_went_past_are_removed_others_kept(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool", "db", 1 << 20)
    for name in (TL1.format(2), TL1.format(3), TL1.format(6), TL2.format(3), TL2.format(5)):
        _prefetched(spool, name, name.encode())
    _prefetched(spool, "00000002.history", b"1\t0/5000000\tno recovery target\n")
    assert not take(spool, TL2.format(4), tmp_path / "RECOVERYXLOG")  # not prefetched
    # below segment 4 on any timeline: gone; the history file and later segments stay
    assert _left(spool) == [TL1.format(6), "00000002.history", TL2.format(5)]
    assert not take(spool, "00000003.history", tmp_path / "RECOVERYHISTORY")
    assert _left(spool) == [TL1.format(6), "00000002.history", TL2.format(5)]


def test_one_prefetch_at_a_time(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool", "db", 1 << 20)
    with prefetch_lock(spool) as first:
        assert first
        with prefetch_lock(spool) as second:
            assert not second
    with prefetch_lock(spool) as again:
        assert again


def test_a_following_prefetch_keeps_ahead_of_recovery_until_the_archive_ends(
    tmp_path: Path,
) -> None:
    """One prefetch feeds a whole recovery: ``count`` ahead of what recovery took, to the
    end of the archive; and it gives up when recovery takes nothing."""
    import threading

    from buttress.backup.wal.names import segment_name
    from buttress.backup.wal.prefetch import prefetch

    class Missing(Exception):
        pass

    archive = {segment_name(1, n): os.urandom(1024) for n in range(1, 31)}

    def fetch(name: str, out: Path) -> None:
        if name not in archive:
            raise Missing(name)
        out.write_bytes(archive[name])

    spool = Spool(tmp_path / "spool", "db", 1 << 30)
    spool.in_dir.mkdir(parents=True)
    taken: list[str] = []

    def recovery() -> None:
        for n in range(2, 31):
            name = segment_name(1, n)
            out = tmp_path / "RECOVERYXLOG"
            for _ in range(500):
                if take(spool, name, out):
                    break
                threading.Event().wait(0.01)
            assert out.read_bytes() == archive[name]
            taken.append(name)

    consumer = threading.Thread(target=recovery)
    consumer.start()
    got = prefetch(spool, fetch, segment_name(1, 1), 3, (Missing,), follow=5.0)
    consumer.join()
    assert got == [segment_name(1, n) for n in range(2, 31)]
    assert taken == got
    # nobody takes anything: it fetches `count` ahead, then gives up after `follow`
    idle = Spool(tmp_path / "idle", "db", 1 << 30)
    idle.in_dir.mkdir(parents=True)
    assert prefetch(idle, fetch, segment_name(1, 1), 3, (Missing,), follow=0.3) == [
        segment_name(1, n) for n in (2, 3, 4)
    ]
