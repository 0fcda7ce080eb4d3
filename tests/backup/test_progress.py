"""Progress bars on a terminal (a pseudo-terminal the test opens): a backup shows bytes and
rate, a restore and a verify show their phase; without a terminal nothing is drawn."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.backup.conftest import config_file, recipient


def _in_terminal(args: list[str], cwd: Path) -> tuple[int, str]:
    """Run the CLI with stdout and stderr on a pseudo-terminal; its exit code and screen."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "buttress", *args],
        stdin=subprocess.DEVNULL,
        stdout=slave,
        stderr=slave,
        cwd=cwd,
        env={**os.environ, "COLUMNS": "140", "TERM": "xterm-256color"},
    )
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    screen = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", b"".join(chunks).decode(errors="replace"))
    return proc.wait(), screen


def test_progress_on_a_terminal(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = config_file(project, recipient(project))
    (project / "site" / "data.bin").write_bytes(os.urandom(3 << 20))
    code, screen = _in_terminal(["-c", config, "backup", "run", "site"], project)
    assert code == 0, screen
    assert "backing up site (tar)" in screen
    assert "MiB" in screen  # bytes done
    assert "/s" in screen  # rate
    listed = subprocess.run(
        [sys.executable, "-m", "buttress", "-c", config, "backup", "list", "--json"],
        capture_output=True, text=True, check=True, cwd=project,
    )  # fmt: skip
    assert "backing up" not in listed.stdout + listed.stderr  # not a terminal: no bars
    backup_id = json.loads(listed.stdout)[0]["id"]
    code, screen = _in_terminal(
        ["-c", config, "backup", "restore", backup_id, "--to", "out"], project
    )
    assert code == 0, screen
    assert "restoring site (tar)" in screen
    assert "100%" in screen or "0:00:00" in screen  # a known total: an ETA column
    code, screen = _in_terminal(["-c", config, "backup", "verify", backup_id], project)
    assert code == 0, screen
    assert "checking local" in screen
