"""The async push's fast path: which command lines it takes (the rest go to the CLI), and
what it does with them, in a real subprocess started the way PostgreSQL starts it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from buttress.backup.wal.fast import FastCall, parse

SEGMENT = "000000010000000000000001"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["wal", "push", "pg", "p", "--spool", "/s"], ("pg", "p", "/s", 4096)),
        (
            [
                "--config",
                "c.yaml",
                "wal",
                "push",
                "pg",
                "p",
                "--spool",
                "/s",
                "--spool-max-mb",
                "8",
            ],
            ("pg", "p", "/s", 8),
        ),
        (["--debug", "wal", "push", "--spool", "/s", "pg", "p"], ("pg", "p", "/s", 4096)),
    ],
)
def test_a_push_naming_the_spool_takes_the_fast_path(
    args: list[str], expected: tuple[str, str, str, int]
) -> None:
    target, path, spool, max_mb = expected
    call = parse(args)
    assert isinstance(call, FastCall)
    assert (call.command, call.target, call.paths) == ("push", target, (path,))
    assert (call.spool, call.max_mb) == (Path(spool), max_mb)


def test_a_fetch_naming_the_spool_keeps_the_global_options_for_its_prefetch() -> None:
    call = parse(
        ["--config", "/c.yaml", "wal", "fetch", "pg", "00000002.history", "p", "--spool", "/s"]
    )
    assert call == FastCall(
        "fetch", "pg", ("00000002.history", "p"), Path("/s"), 4096, ("--config", "/c.yaml")
    )


@pytest.mark.parametrize(
    "args",
    [
        ["wal", "push", "pg", "p"],  # no spool: the configured push
        ["wal", "push", "pg", "p", "--spool", "/s", "--help"],
        ["wal", "fetch", "pg", "x", "--spool", "/s"],  # no OUT
        ["wal", "pusher", "pg", "--spool", "/s"],
        ["wal", "push", "pg", "--spool", "/s"],  # no path
        ["wal", "push", "pg", "p", "extra", "--spool", "/s"],
        ["wal", "push", "../etc", "p", "--spool", "/s"],  # not a target name
        ["wal", "push", "pg", "p", "--spool", "/s", "--spool-max-mb", "0"],
        ["wal", "push", "pg", "p", "--spool", "/s", "--unknown"],
        ["wal", "push", "pg", "p", "--spool=/s"],
    ],
)
def test_anything_else_goes_to_the_cli(args: list[str]) -> None:
    assert parse(args) is None


def _push(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}
    return subprocess.run(
        [sys.executable, "-m", "buttress", *args], capture_output=True, text=True, env=env
    )


def test_the_fast_push_spools_and_reports_errors_like_the_cli(tmp_path: Path) -> None:
    segment = tmp_path / SEGMENT
    segment.write_bytes(os.urandom(1 << 20))
    spool = tmp_path / "spool"
    config = tmp_path / "absent.yaml"  # never read
    done = _push("--config", str(config), "wal", "push", "pg", str(segment), "--spool", str(spool))
    assert done.returncode == 0, done.stderr
    assert (spool / "pg" / "out" / SEGMENT).read_bytes() == segment.read_bytes()
    again = _push("wal", "push", "pg", str(segment), "--spool", str(spool))
    assert again.returncode == 0, again.stderr
    other = tmp_path / "other" / SEGMENT
    other.parent.mkdir()
    other.write_bytes(os.urandom(1 << 20))
    clash = _push("wal", "push", "pg", str(other), "--spool", str(spool))
    assert clash.returncode == 1
    assert "other content" in clash.stderr
    big = tmp_path / "big" / SEGMENT
    big.parent.mkdir()
    big.write_bytes(os.urandom(2 << 20))
    full = _push(
        "wal", "push", "pg", str(big), "--spool", str(tmp_path / "s2"), "--spool-max-mb", "1"
    )
    assert full.returncode == 1
    assert "spool_max_mb" in full.stderr
    missing = _push(
        "wal", "push", "pg", str(tmp_path / (SEGMENT[:-1] + "2")), "--spool", str(spool)
    )
    assert missing.returncode == 1
    assert "cannot read" in missing.stderr


def test_the_fast_fetch_answers_126_when_it_cannot_write_and_keeps_the_prefetched_copy(
    tmp_path: Path,
) -> None:
    """A prefetched file that cannot be put in place is exit 126 (recovery stops: not "no such
    file", which would end it early), and the prefetched copy is still there for the retry."""
    import hashlib

    name = "00000002.history"
    body = b"1\t0/3000000\tno recovery target specified\n"
    inbox = tmp_path / "spool" / "pg" / "in"
    inbox.mkdir(parents=True)
    held = inbox / f"{name}-{hashlib.sha256(body).hexdigest()}"
    held.write_bytes(body)
    spool = str(tmp_path / "spool")
    nowhere = tmp_path / "absent-dir" / name
    failed = _push("wal", "fetch", "pg", name, str(nowhere), "--spool", spool)
    assert failed.returncode == 126, failed.stderr
    assert "error: wal fetch of target pg" in failed.stderr
    assert held.read_bytes() == body
    out = tmp_path / name
    done = _push("wal", "fetch", "pg", name, str(out), "--spool", spool)
    assert done.returncode == 0, done.stderr
    assert out.read_bytes() == body
    assert not held.exists()
