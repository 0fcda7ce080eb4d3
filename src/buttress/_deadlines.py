"""One timer for many asyncio calls that share a duration (a policy's timeout, a store's
command timeout): cheaper than an ``asyncio.timeout`` per call, with the same semantics."""

from __future__ import annotations

import _asyncio
import asyncio
import collections
import time
from collections.abc import Callable
from typing import Any

__all__ = ["LoopDeadlines", "current_task"]


def _task_lookup() -> Callable[[asyncio.AbstractEventLoop], asyncio.Task[Any] | None]:
    """The cheapest way to ask for a loop's current task: in C from Python 3.12; on 3.11
    ``asyncio.current_task`` is a Python function over the dict read here directly."""
    native = getattr(_asyncio, "current_task", None)
    if native is not None:
        return native  # type: ignore[no-any-return]  # C function, untyped
    tasks = getattr(asyncio.tasks, "_current_tasks", None)
    if isinstance(tasks, dict):
        return tasks.get
    return asyncio.current_task


current_task = _task_lookup()

# an entry: [deadline on the loop's clock, task, state, the task's cancelling() at the start]
_WHEN, _TASK, _STATE, _CANCELLING = 0, 1, 2, 3
_RUNNING, _DONE, _FIRED = "running", "done", "fired"


class LoopDeadlines:
    """Calls on one event loop that all last the same time, oldest first (the calls of one
    Timeout policy, the commands of one RedisStore).

    ``asyncio.timeout`` schedules a timer per call: a heap push of a Python object compared in
    Python (log n comparisons among every pending timer of the loop), and a cancelled handle
    left in the heap until the loop next runs. They all last the same time, so their
    deadlines come in the order they start: a queue holds them, and one timer, armed for the
    oldest running call, serves all. When it fires it cancels every call past its deadline
    (as ``asyncio.timeout`` does: ``task.cancel()``, then ``uncancel()`` when the call ends)
    and re-arms for the next. Finished calls leave the queue from its head.
    Used only from the loop's own thread.
    """

    __slots__ = ("calls", "handle", "loop", "now")
    now: Callable[[], float]

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        # asyncio's own loops tell time.monotonic() through a Python method: skip the method
        self.now = time.monotonic if type(loop).time is asyncio.BaseEventLoop.time else loop.time
        self.calls: collections.deque[list[Any]] = collections.deque()
        self.handle: asyncio.TimerHandle | None = None

    def start(self, task: asyncio.Task[Any] | None, seconds: float) -> list[Any]:
        if task is None:
            raise RuntimeError("a call with an asyncio deadline must run inside an asyncio task")
        when = self.now() + seconds
        entry: list[Any] = [when, task, _RUNNING, task.cancelling()]
        self.calls.append(entry)
        if self.handle is None:
            self.handle = self.loop.call_at(when, self._fire)
        return entry

    def expired(self, entry: list[Any]) -> bool:
        """The call ended in CancelledError: was that our cancellation, and only ours (as
        ``asyncio.timeout`` decides: the task's cancel requests, less ours, are back to what
        they were when the call started)?"""
        if entry[_STATE] is not _FIRED:
            return False
        entry[_STATE] = _DONE
        return bool(entry[_TASK].uncancel() <= entry[_CANCELLING])

    def end(self, entry: list[Any]) -> None:
        """The call is over, however it ended."""
        if entry[_STATE] is _FIRED:  # we cancelled it, and it swallowed the cancellation
            entry[_TASK].uncancel()
        entry[_STATE] = _DONE
        calls = self.calls
        while calls and calls[0][_STATE] is not _RUNNING:
            calls.popleft()

    def _fire(self) -> None:
        self.handle = None
        calls = self.calls
        now = self.now()
        while calls:
            entry = calls[0]
            if entry[_STATE] is not _RUNNING:
                calls.popleft()
            elif entry[_WHEN] <= now:
                calls.popleft()
                entry[_STATE] = _FIRED
                entry[_TASK].cancel()
            else:
                self.handle = self.loop.call_at(entry[_WHEN], self._fire)
                return
