"""Timeout: bound how long a call may take.

**asyncio** calls are cancelled when the time is up (``asyncio.timeout``), and the caller gets
:class:`PolicyTimeoutError` (a ``TimeoutError``).

**Plain (sync) calls cannot be interrupted safely in Python**: a thread cannot be killed, and
a signal-based alarm works only in the main thread and breaks code that is not ready for it.
buttress therefore offers two honest modes:

* *cooperative* (default): the call runs to its end in the caller's thread; while it runs,
  :func:`deadline` and :func:`remaining` tell it how much time is left, so well-behaved code
  (database drivers, HTTP clients) can set its own socket timeouts from it. If the call
  overran, its result is discarded and :class:`PolicyTimeoutError` is raised, so outer
  policies (retry, breaker) see a timeout.
* *hard* (``hard=True``): the call runs in a worker thread and the caller stops waiting when
  the time is up. The call itself is **not** stopped: it goes on in its worker until it
  returns, holding whatever it holds (connections, locks) and a worker slot. Use it for calls
  that may hang forever and have no timeout of their own.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import threading
import weakref
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any, TypeVar

from buttress._clock import Clock, monotonic
from buttress._deadlines import LoopDeadlines, current_task
from buttress.resilience import events
from buttress.resilience._policy import AsyncLink, Link, Policy, invoke
from buttress.resilience.errors import PolicyTimeoutError

__all__ = ["Timeout", "deadline", "remaining"]

T = TypeVar("T")

_deadline: contextvars.ContextVar[float] = contextvars.ContextVar(
    "buttress_deadline", default=float("inf")
)
_pool: concurrent.futures.ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()
HARD_TIMEOUT_WORKERS = 32


def deadline() -> float | None:
    """The innermost timeout's deadline, on the ``time.monotonic()`` clock; ``None`` if none."""
    value = _deadline.get()
    return None if value == float("inf") else value


def remaining(clock: Clock = monotonic) -> float | None:
    """Seconds left before the innermost timeout's deadline (never negative); ``None`` if none."""
    value = _deadline.get()
    return None if value == float("inf") else max(0.0, value - clock())


def _workers() -> concurrent.futures.ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = concurrent.futures.ThreadPoolExecutor(
                max_workers=HARD_TIMEOUT_WORKERS, thread_name_prefix="buttress-timeout"
            )
        return _pool


class Timeout(Policy):
    """Bounds a call to ``seconds``.

    >>> Timeout(2.0).call(lambda: "fast")
    'fast'

    Args:
        seconds: the time allowed, > 0.
        hard: sync calls only: run in a worker thread and stop waiting at the deadline (the
            call itself keeps running; see the module documentation).
        clock: seconds source (``time.monotonic``); the deadline functions use the same clock.

    .. versionadded:: 0.1
    """

    def __init__(
        self,
        seconds: float,
        *,
        name: str | None = None,
        hard: bool = False,
        clock: Clock = monotonic,
        listeners: tuple[events.Listener, ...] = (),
    ) -> None:
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not seconds > 0:
            raise ValueError(f"timeout seconds={seconds!r}: expected a number of seconds > 0")
        self._init_policy(name, "timeout", listeners)
        self.seconds = float(seconds)
        self.hard = hard
        self._clock = clock
        self._by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, LoopDeadlines] = (
            weakref.WeakKeyDictionary()
        )
        self._last_loop: tuple[object, Any] = (None, None)  # (loop, its LoopDeadlines)
        # call() and acall() run through the same stage a pipeline links (one body each)
        self._run = self._link(invoke)
        self._arun = self._alink(invoke)

    def settings(self) -> dict[str, Any]:
        return {"seconds": self.seconds, "hard": self.hard}

    def _timed_out(self) -> PolicyTimeoutError:
        if self._listeners or events.global_listeners:
            self._emit(events.TimedOut(self.name, self.seconds))
        return PolicyTimeoutError(self.name, self.seconds)

    def call(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """Run ``fn`` with a deadline (cooperative) or in a worker thread (``hard=True``).

        Raises:
            PolicyTimeoutError: the call took longer than ``seconds``.
        """
        if self.hard:
            return self._call_hard(fn, args, kwargs)
        return self._run(partial(fn, *args, **kwargs) if args or kwargs else fn)  # type: ignore[no-any-return]  # fn's result

    def _link(self, inner: Link) -> Link:
        get, set_, reset = _deadline.get, _deadline.set, _deadline.reset

        def link(thunk: Callable[[], Any]) -> Any:
            if self.hard:
                return self._call_hard(inner, (thunk,), {})
            clock = self._clock
            until = clock() + self.seconds
            outer = get()
            token = set_(until if until < outer else outer)
            try:
                result = inner(thunk)
            finally:
                reset(token)
            if clock() > until:
                raise self._timed_out()
            return result

        return link

    def _call_hard(self, fn: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any]) -> T:
        until = self._clock() + self.seconds
        context = contextvars.copy_context()
        context.run(_deadline.set, min(until, _deadline.get()))
        future = _workers().submit(context.run, fn, *args, **kwargs)
        try:
            return future.result(timeout=self.seconds)
        except concurrent.futures.TimeoutError:
            future.cancel()  # only helps if it has not started yet
            raise self._timed_out() from None

    def _deadlines_on(self, loop: asyncio.AbstractEventLoop) -> LoopDeadlines:
        """This policy's deadlines on ``loop`` (one timer per loop, not one per call)."""
        last = self._last_loop  # (loop, deadlines): one read, whatever other threads do
        if last[0] is loop:
            return last[1]  # type: ignore[no-any-return]  # the pair's second item
        deadlines = self._by_loop.get(loop)
        if deadlines is None:
            deadlines = self._by_loop[loop] = LoopDeadlines(loop)
        self._last_loop = (loop, deadlines)
        return deadlines

    def _start(self) -> tuple[LoopDeadlines, list[Any]]:
        loop = asyncio.get_running_loop()
        deadlines = self._deadlines_on(loop)
        return deadlines, deadlines.start(current_task(loop), self.seconds)

    async def acall(self, fn: Callable[..., Awaitable[T]], /, *args: Any, **kwargs: Any) -> T:
        """Await ``fn`` and cancel it when ``seconds`` have passed.

        Raises:
            PolicyTimeoutError: the call was cancelled at the deadline.
        """
        return await self._arun(partial(fn, *args, **kwargs) if args or kwargs else fn)  # type: ignore[no-any-return]  # fn's result

    def _alink(self, inner: AsyncLink) -> AsyncLink:
        get, set_, reset = _deadline.get, _deadline.set, _deadline.reset
        get_loop, task_of, deadlines_on = (
            asyncio.get_running_loop,
            current_task,
            self._deadlines_on,
        )

        async def link(thunk: Callable[[], Awaitable[Any]]) -> Any:
            seconds = self.seconds
            until = self._clock() + seconds
            outer = get()
            token = set_(until if until < outer else outer)
            loop = get_loop()
            deadlines = deadlines_on(loop)
            entry = deadlines.start(task_of(loop), seconds)
            try:
                return await inner(thunk)
            except asyncio.CancelledError:
                if deadlines.expired(entry):
                    raise self._timed_out() from None
                raise
            finally:
                deadlines.end(entry)
                reset(token)

        return link

    def _enter(self) -> tuple[float, contextvars.Token[float]]:
        until = self._clock() + self.seconds
        return until, _deadline.set(min(until, _deadline.get()))

    def _exit(self, token: object, exc: BaseException | None) -> None:
        if not isinstance(token, tuple):
            raise TypeError(f"timeout {self.name!r}: exit without its enter")
        until, var_token = token
        _deadline.reset(var_token)
        if exc is None and self._clock() > until:
            raise self._timed_out()

    async def _aenter(self) -> tuple[contextvars.Token[float], LoopDeadlines, list[Any]]:
        until = self._clock() + self.seconds
        var_token = _deadline.set(min(until, _deadline.get()))
        deadlines, entry = self._start()
        return var_token, deadlines, entry

    async def _aexit(self, token: object, exc: BaseException | None) -> None:
        if not isinstance(token, tuple):
            raise TypeError(f"timeout {self.name!r}: exit without its enter")
        var_token, deadlines, entry = token
        _deadline.reset(var_token)
        expired = isinstance(exc, asyncio.CancelledError) and deadlines.expired(entry)
        deadlines.end(entry)
        if expired:
            raise self._timed_out() from None
