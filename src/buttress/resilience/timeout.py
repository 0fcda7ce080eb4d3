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
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from buttress._clock import Clock, monotonic
from buttress.resilience import events
from buttress.resilience._policy import Link, Policy
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

    def _timed_out(self) -> PolicyTimeoutError:
        if self._listeners or events._global:
            self._emit(events.TimedOut(self.name, self.seconds))
        return PolicyTimeoutError(self.name, self.seconds)

    def call(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """Run ``fn`` with a deadline (cooperative) or in a worker thread (``hard=True``).

        Raises:
            PolicyTimeoutError: the call took longer than ``seconds``.
        """
        if self.hard:
            return self._call_hard(fn, args, kwargs)
        until = self._clock() + self.seconds
        outer = _deadline.get()
        token = _deadline.set(until if until < outer else outer)
        try:
            result = fn(*args, **kwargs)
        finally:
            _deadline.reset(token)
        if self._clock() > until:
            raise self._timed_out()
        return result

    def _link(self, inner: Link) -> Link:
        if self.hard:
            return super()._link(inner)
        clock, seconds, get, set_, reset = (
            self._clock,
            self.seconds,
            _deadline.get,
            _deadline.set,
            _deadline.reset,
        )

        def link(thunk: Callable[[], Any]) -> Any:
            until = clock() + seconds
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

    async def acall(self, fn: Callable[..., Awaitable[T]], /, *args: Any, **kwargs: Any) -> T:
        """Await ``fn`` and cancel it when ``seconds`` have passed.

        Raises:
            PolicyTimeoutError: the call was cancelled at the deadline.
        """
        until = self._clock() + self.seconds
        token = _deadline.set(min(until, _deadline.get()))
        try:
            async with asyncio.timeout(self.seconds) as scope:
                return await fn(*args, **kwargs)
        except TimeoutError:
            if scope.expired():
                raise self._timed_out() from None
            raise
        finally:
            _deadline.reset(token)

    def _enter(self) -> tuple[float, contextvars.Token[float]]:
        until = self._clock() + self.seconds
        return until, _deadline.set(min(until, _deadline.get()))

    def _exit(self, token: object, exc: BaseException | None) -> None:
        assert isinstance(token, tuple)
        until, var_token = token
        _deadline.reset(var_token)
        if exc is None and self._clock() > until:
            raise self._timed_out()

    async def _aenter(self) -> tuple[float, contextvars.Token[float], asyncio.Timeout]:
        until = self._clock() + self.seconds
        var_token = _deadline.set(min(until, _deadline.get()))
        scope = asyncio.timeout(self.seconds)
        await scope.__aenter__()
        return until, var_token, scope

    async def _aexit(self, token: object, exc: BaseException | None) -> None:
        assert isinstance(token, tuple)
        _until, var_token, scope = token
        _deadline.reset(var_token)
        try:
            await scope.__aexit__(
                type(exc) if exc else None, exc, exc.__traceback__ if exc else None
            )
        except TimeoutError:
            if scope.expired():
                raise self._timed_out() from None
            raise
