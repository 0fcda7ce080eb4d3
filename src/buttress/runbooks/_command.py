"""Running a command step: argv exec (a shell only when asked), the process group killed on
timeout, output captured within a bound (head and tail kept, the cut noted)."""

from __future__ import annotations

import contextlib
import io
import os
import signal
import subprocess
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import cast

__all__ = ["Bounded", "Finished", "kill_running", "run_process"]

_CHUNK = 65536
_LIVE: set[int] = set()  # the process groups of the command steps running in this process
_LIVE_LOCK = threading.Lock()


def kill_running() -> int:
    """Kill the process group of every command step running in this process (the CLI on
    SIGTERM, the server when it stops): a step must not outlive the run that records it,
    or a resume would run it a second time beside it. How many were killed."""
    with _LIVE_LOCK:
        groups = list(_LIVE)
    for group in groups:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(group, signal.SIGKILL)
    return len(groups)


_READER_GRACE = 2.0  # seconds to wait for the output of a process that exited


class Bounded:
    """Keeps the first and last ``limit // 2`` bytes of a stream and counts what it drops."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.head = bytearray()
        self.tail = bytearray()
        self.dropped = 0

    def write(self, data: bytes) -> None:
        half = self.limit - self.limit // 2
        room = half - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        if not data:
            return
        self.tail += data
        excess = len(self.tail) - self.limit // 2
        if excess > 0:
            del self.tail[:excess]
            self.dropped += excess

    def text(self) -> str:
        """The kept output; ``[... N bytes cut ...]`` where bytes were dropped."""
        head = self.head.decode("utf-8", "replace")
        tail = self.tail.decode("utf-8", "replace")
        if self.dropped:
            return f"{head}\n[... {self.dropped:,} bytes cut ...]\n{tail}"
        return head + tail


@dataclass(frozen=True, slots=True)
class Finished:
    """How a process ended: its exit code (None when it was killed at the timeout)."""

    exit_code: int | None
    output: str
    timed_out: bool


def run_process(
    argv: Sequence[str],
    *,
    cwd: str | None,
    env: Mapping[str, str],
    timeout: float | None,
    max_output: int,
) -> Finished:
    """Run ``argv`` in a session of its own; kill its whole process group at ``timeout``.

    Raises:
        OSError: it could not be started (no such program, not executable, no such cwd).
    """
    proc = subprocess.Popen(
        list(argv),
        cwd=cwd,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    with _LIVE_LOCK:
        _LIVE.add(proc.pid)  # its session's group id is its pid
    try:
        return _supervise(proc, timeout, max_output)
    finally:
        with _LIVE_LOCK:
            _LIVE.discard(proc.pid)


def _supervise(proc: subprocess.Popen[bytes], timeout: float | None, max_output: int) -> Finished:
    captured = Bounded(max_output)
    stdout = cast("io.BufferedReader", proc.stdout)  # stdout=PIPE, unbuffered: read1 works

    def read() -> None:
        with contextlib.suppress(OSError, ValueError):
            while chunk := stdout.read1(_CHUNK):
                captured.write(chunk)

    reader = threading.Thread(target=read, name="buttress-runbook-output", daemon=True)
    reader.start()
    timed_out = False
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:  # interrupted: leave nothing running behind
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    if not timed_out:
        # a child it left running may hold the pipe open: end the group, then stop reading
        reader.join(_READER_GRACE)
        if reader.is_alive():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
    reader.join(_READER_GRACE)
    stdout.close()
    return Finished(None if timed_out else proc.returncode, captured.text(), timed_out)
