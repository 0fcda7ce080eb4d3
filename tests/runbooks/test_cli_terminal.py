"""``buttress runbook run`` at a terminal asks the confirm step itself, and records the answer
with the CLI's actor."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import time
from pathlib import Path

from tests.runbooks.cli_support import site


def _read_until(fd: int, needle: str, limit: float = 60) -> str:
    seen = ""
    deadline = time.monotonic() + limit
    while needle not in seen:
        assert time.monotonic() < deadline, f"no {needle!r} in {seen!r}"
        ready, _, _ = select.select([fd], [], [], 1)
        if ready:
            try:
                seen += os.read(fd, 4096).decode(errors="replace")
            except OSError:  # the child closed the terminal
                break
    return seen


def test_a_terminal_is_asked_and_its_answer_recorded(tmp_path: Path) -> None:
    """The prompt shows the step's question; answering y lets the run succeed (exit 0)."""
    here = site(tmp_path)
    main, child_side = pty.openpty()
    child = subprocess.Popen(
        here.argv("run", "ask"),
        stdin=child_side,
        stdout=child_side,
        stderr=child_side,
        env=here.env(),
        close_fds=True,
    )
    os.close(child_side)
    try:
        _read_until(main, "Fail over now?")
        os.write(main, b"y\n")
        rest = _read_until(main, "run 1: succeeded")
        assert "approved by cli:" in rest
        assert child.wait(timeout=60) == 0
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        os.close(main)
    catalog = here.catalog()
    try:
        gate = here.service(catalog).get(1).steps[0]
        assert gate.approved
        assert (gate.confirmed_by or "").startswith("cli:")
    finally:
        catalog.dispose()
