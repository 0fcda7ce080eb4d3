"""Mutex: a lock for critical sections of a few dozen bytecodes, at a third of Lock's cost.

The lock is the one item of a list: ``pop()`` takes it, ``append()`` gives it back. Each is a
single atomic operation (under the GIL, and under the list's own lock in free-threaded
builds), and each is a plain C call, where ``threading.Lock.acquire`` parses its arguments on
every call. Hot paths inline the two calls::

    held = self._mutex.held
    try:
        held.pop()
    except IndexError:
        self._mutex.wait()   # outside a failing pop only when another thread holds it
    try:
        ...                  # no I/O, no waiting, nothing that may take this mutex again
    finally:
        held.append(None)

and other paths use it as a context manager (``with self._mutex:``). A contended waiter sleeps
in growing steps (a bare GIL hand-off first, then up to 1 ms), so it suits only sections that
never block; it is not reentrant.
"""

from __future__ import annotations

import time
from types import TracebackType

__all__ = ["Mutex"]

_MAX_SLEEP = 0.001


class Mutex:
    __slots__ = ("held",)

    def __init__(self) -> None:
        self.held: list[None] = [None]  # the item present = free

    def wait(self) -> None:
        """Take the mutex, sleeping while another thread holds it."""
        held = self.held
        delay = 0.0
        while True:
            time.sleep(delay)
            try:
                held.pop()
                return
            except IndexError:
                delay = min(_MAX_SLEEP, delay * 2 or 1e-6)

    def __enter__(self) -> None:
        try:
            self.held.pop()
        except IndexError:
            self.wait()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.held.append(None)
