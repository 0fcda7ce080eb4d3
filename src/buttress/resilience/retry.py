"""Retry: run a call again when it fails, with backoff, jitter, a deadline and a budget.

The success path is one call and (with a budget) one deposit: no clock read unless a
``deadline`` is set, no allocation. When it gives up, the caller's last exception is re-raised
as it was (or the last result returned, for results that asked for a retry).

A ``with`` block cannot run twice, so a block is retried through attempts::

    for attempt in Retry(attempts=3):
        with attempt:
            do_the_thing()
"""

from __future__ import annotations

import email.utils
import random as _random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import Any, TypeVar

from buttress import _clock
from buttress._clock import AsyncSleep, Clock, Sleep
from buttress.resilience import events
from buttress.resilience._handles import (
    ExceptionRule,
    ResultRule,
    describe_rule,
    exception_rule,
)
from buttress.resilience._policy import AsyncLink, Link, Policy, plain
from buttress.resilience.backoff import (
    Backoff,
    JitterKind,
    apply_jitter,
    backoff_from_name,
)
from buttress.resilience.budget import RetryBudget
from buttress.resilience.errors import PolicyTimeoutError, RejectedError

__all__ = ["Attempt", "Retry", "RetryOptions", "retry_after_hint"]

T = TypeVar("T")

DEFAULT_ATTEMPTS = 3


def _default_retry_on(exc: BaseException) -> bool:
    # Every ordinary exception, a policy timeout included (the timeout bounds each attempt, as
    # in tenacity, resilience4j and Polly), except the other rejections (an open breaker, a
    # full bulkhead or a rate limit is not helped by hammering it) and cancellation (a
    # BaseException).
    return isinstance(exc, Exception) and (
        not isinstance(exc, RejectedError) or isinstance(exc, PolicyTimeoutError)
    )


def retry_after_hint(outcome: object) -> float | None:
    """Seconds a failed call's exception or result asks to wait, if it says.

    Looks for a ``retry_after`` attribute (buttress's own errors), then for a ``Retry-After``
    header (seconds or an HTTP date) on the object, its ``response`` (httpx, requests), or
    ``headers``.
    """
    hint = getattr(outcome, "retry_after", None)
    if isinstance(hint, int | float) and not isinstance(hint, bool):
        return max(0.0, float(hint))
    for holder in (outcome, getattr(outcome, "response", None)):
        headers = getattr(holder, "headers", None)
        if headers is not None and hasattr(headers, "get"):
            value = headers.get("Retry-After") or headers.get("retry-after")
            if value:
                return _parse_retry_after(str(value))
    return None


def _parse_retry_after(value: str) -> float | None:
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


@dataclass(frozen=True, slots=True)
class RetryOptions:
    """A retry's numbers, validated once.

    Args:
        attempts: total attempts including the first (>= 1; 1 = no retry).
        deadline: seconds from the first attempt after which no new attempt starts (None: none).
        jitter: ``none``, ``full``, ``equal`` or ``decorrelated``.
        max_retry_after: longest Retry-After hint honoured, seconds; a longer one gives up.
    """

    attempts: int = DEFAULT_ATTEMPTS
    deadline: float | None = None
    jitter: JitterKind = "full"
    respect_retry_after: bool = True
    max_retry_after: float = 60.0

    def __post_init__(self) -> None:
        if (
            not isinstance(self.attempts, int)
            or isinstance(self.attempts, bool)
            or self.attempts < 1
        ):
            raise ValueError(f"retry attempts={self.attempts!r}: expected an integer >= 1")
        if self.deadline is not None and self.deadline <= 0:
            raise ValueError(f"retry deadline={self.deadline!r}: expected seconds > 0 (or None)")
        if self.jitter not in ("none", "full", "equal", "decorrelated"):
            raise ValueError(
                f"unknown jitter {self.jitter!r}: use 'none', 'full', 'equal' or 'decorrelated'"
            )
        if self.max_retry_after < 0:
            raise ValueError(
                f"retry max_retry_after={self.max_retry_after!r}: expected seconds >= 0"
            )


class _Testing:
    attempts: int | None = None


_testing = _Testing()


class Retry(Policy):
    """Runs a call again when it fails.

    >>> Retry(attempts=3).call(lambda: "ok")
    'ok'

    Args:
        attempts, deadline, jitter, respect_retry_after, max_retry_after: see :class:`RetryOptions`.
        backoff: a backoff object or ``"constant"``, ``"linear"``, ``"exponential"`` (default).
        delay: first wait in seconds, for a named backoff (0.1).
        max_delay: cap of the wait in seconds, for a named backoff and decorrelated jitter (30).
        retry_on: exceptions to retry (types or predicate). Default: every ``Exception``,
            ``PolicyTimeoutError`` included, but the other rejections (``CircuitOpenError``,
            ``BulkheadFullError``, ``RateLimitedError``): name them to retry them.
        retry_if_result: predicate on a result that asks for a retry (e.g. HTTP 429 or 503).
        budget: a shared :class:`RetryBudget`; when it is spent, no more retries.
        before_sleep: called as ``before_sleep(attempt, wait, exception_or_None, result)``.
        clock, sleep, asleep, random: injectable time and randomness, for tests.

    .. versionadded:: 0.1
    """

    def __init__(
        self,
        *,
        name: str | None = None,
        attempts: int = DEFAULT_ATTEMPTS,
        deadline: float | None = None,
        backoff: Backoff | str = "exponential",
        delay: float = 0.1,
        max_delay: float = 30.0,
        jitter: JitterKind = "full",
        retry_on: ExceptionRule | None = _default_retry_on,
        retry_if_result: ResultRule | None = None,
        respect_retry_after: bool = True,
        max_retry_after: float = 60.0,
        budget: RetryBudget | None = None,
        before_sleep: Callable[[int, float, BaseException | None, Any], None] | None = None,
        clock: Clock | None = None,
        sleep: Sleep | None = None,
        asleep: AsyncSleep | None = None,
        random: Callable[[], float] = _random.random,
        listeners: tuple[events.Listener, ...] = (),
    ) -> None:
        self._init_policy(name, "retry", listeners)
        self.options = RetryOptions(
            attempts, deadline, jitter, respect_retry_after, max_retry_after
        )
        if isinstance(backoff, str):
            backoff = backoff_from_name(backoff, delay=delay, max_delay=max_delay)
        elif not callable(backoff):
            raise TypeError(f"retry backoff: expected a backoff or a name, got {backoff!r}")
        if delay < 0 or max_delay < 0:
            raise ValueError("retry delay and max_delay: expected seconds >= 0")
        self._backoff = backoff
        self._base, self._cap = delay, max_delay
        self._retry_on = exception_rule(retry_on, "retry_on")
        self._retry_on_given = retry_on
        self._retry_if_result = retry_if_result
        self._budget = budget
        self._before_sleep = before_sleep
        self._clock = clock or _clock.monotonic
        self._sleep = sleep
        self._asleep = asleep
        self._random = random
        self._deadline = deadline

    def settings(self) -> dict[str, Any]:
        o = self.options
        retry_on: Any = (
            "default: every Exception and PolicyTimeoutError, not other rejections"
            if self._retry_on is _default_retry_on
            else describe_rule(self._retry_on_given)
        )
        budget = self._budget
        return {
            "attempts": o.attempts,
            "deadline": o.deadline,
            "backoff": plain(self._backoff),
            "jitter": o.jitter,
            "respect_retry_after": o.respect_retry_after,
            "max_retry_after": o.max_retry_after,
            "retry_on": retry_on,
            "retry_if_result": describe_rule(self._retry_if_result),
            "budget": None if budget is None else {"name": budget.name, **plain(budget.options)},
        }

    @property
    def budget(self) -> RetryBudget | None:
        """The retry budget this policy draws from, if any."""
        return self._budget

    # -- the core: decide what follows an attempt (no I/O, never sleeps) ---------------------

    def _retryable(self, exc: BaseException) -> bool:
        rule = self._retry_on
        return rule is not None and rule(exc)

    def _start(self) -> float:
        """A retried call begins: count it for the budget; the deadline's start (or 0.0)."""
        if self._budget is not None:
            self._budget.deposit()
        return self._clock() if self._deadline is not None else 0.0

    def _next_wait(
        self,
        attempt: int,
        previous: float,
        started: float,
        exc: BaseException | None,
        result: object,
    ) -> float | None:
        """Seconds to wait before attempt ``attempt + 1``, or ``None`` to give up."""
        o = self.options
        limit = _testing.attempts or o.attempts
        reason = ""
        wait = 0.0
        if attempt >= limit:
            reason = "attempts"
        else:
            wait = apply_jitter(
                o.jitter,
                self._backoff(attempt, previous),
                previous,
                self._base,
                self._cap,
                self._random,
            )
            if o.respect_retry_after:
                hint = retry_after_hint(exc if exc is not None else result)
                if hint is not None:
                    if hint > o.max_retry_after:
                        reason = "retry_after_too_long"
                    wait = max(wait, hint)
            if (
                not reason
                and self._deadline is not None
                and self._clock() - started + wait > self._deadline
            ):
                reason = "deadline"
            if not reason and self._budget is not None and not self._budget.try_withdraw():
                reason = "budget"
        if reason:
            if self._listeners or events.global_listeners:
                self._emit(events.RetryGaveUp(self.name, attempt, reason, exc))
            return None
        if self._before_sleep is not None:
            self._before_sleep(attempt, wait, exc, result)
        if self._listeners or events.global_listeners:
            self._emit(events.RetryScheduled(self.name, attempt, wait, exc, result))
        return wait

    # -- drivers: the only code that makes the call, sleeps and loops ---------------------------
    #
    # A driver runs an attempt and hands its outcome to the core (_retryable, the result check,
    # then _Run.next_wait for "sleep N" or "give up"). The first attempt, the success path, is
    # written by hand twice, in the async driver acall() and the async decorator wrapper
    # _awrap(); scripts/gen_faces.py writes the sync driver call(), the sync wrapper _wrap()
    # and the pipeline stages _link()/_alink() from them (going through call() costs more than
    # the retry itself, and a stage with a wrapper's *args/**kwargs a tuple and a dict per
    # stage: bench "retry (success)" and "pipeline"). After a failure every face continues in
    # the one loop of its kind: _retrying, _aretrying, or the attempt iterators below, which
    # differ only in how they wait (a sync zero wait does not sleep; an async one yields).

    def _retrying(
        self, fn: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any], run: _Run
    ) -> T:
        """The attempts after a failed one, until one succeeds or the core gives up."""
        sleep = self._sleep or _clock.sleep
        while (wait := run.next_wait()) is not None:
            if wait > 0:
                sleep(wait)
            try:
                result = fn(*args, **kwargs)
            except BaseException as exc:
                if not self._retryable(exc):
                    raise
                run.error, run.result = exc, None
                continue
            check = self._retry_if_result
            if check is None or not check(result):
                return result
            run.error, run.result = None, result
        if run.error is not None:
            raise run.error
        return run.result  # type: ignore[no-any-return]  # the last result asked for a retry

    async def acall(self, fn: Callable[..., Awaitable[T]], /, *args: Any, **kwargs: Any) -> T:
        """Await ``fn(*args, **kwargs)``, retrying as configured; re-raises the last exception."""
        started = self._start() if self._budget is not None or self._deadline is not None else 0.0
        try:
            result = await fn(*args, **kwargs)
        except BaseException as exc:
            if not self._retryable(exc):
                raise
            return await self._aretrying(fn, args, kwargs, _Run(self, started, exc, None))
        check = self._retry_if_result
        if check is not None and check(result):
            return await self._aretrying(fn, args, kwargs, _Run(self, started, None, result))
        return result

    async def _aretrying(
        self,
        fn: Callable[..., Awaitable[T]],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        run: _Run,
    ) -> T:
        """:meth:`_retrying` for asyncio (a zero wait still yields to the event loop)."""
        asleep = self._asleep or _clock.asleep
        while (wait := run.next_wait()) is not None:
            await asleep(wait)
            try:
                result = await fn(*args, **kwargs)
            except BaseException as exc:
                if not self._retryable(exc):
                    raise
                run.error, run.result = exc, None
                continue
            check = self._retry_if_result
            if check is None or not check(result):
                return result
            run.error, run.result = None, result
        if run.error is not None:
            raise run.error
        return run.result  # type: ignore[no-any-return]  # the last result asked for a retry

    def _awrap(self, fn: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        """The decorator's wrapper: the first attempt inlined; after a failure the driver's
        loop goes on (with a budget or a deadline, the wrapper is the driver's own)."""
        if self._budget is not None or self._deadline is not None:
            return super()._awrap(fn)
        retryable, aretrying = self._retryable, self._aretrying

        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                result = await fn(*args, **kwargs)
            except BaseException as exc:
                if not retryable(exc):
                    raise
                return await aretrying(fn, args, kwargs, _Run(self, 0.0, exc, None))
            check = self._retry_if_result
            if check is not None and check(result):
                return await aretrying(fn, args, kwargs, _Run(self, 0.0, None, result))
            return result

        return wrapper

    # --- generated by scripts/gen_faces.py from acall and _awrap: do not edit ---

    def call(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """Run ``fn(*args, **kwargs)``, retrying as configured; re-raises the last exception."""
        started = self._start() if self._budget is not None or self._deadline is not None else 0.0
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:
            if not self._retryable(exc):
                raise
            return self._retrying(fn, args, kwargs, _Run(self, started, exc, None))
        check = self._retry_if_result
        if check is not None and check(result):
            return self._retrying(fn, args, kwargs, _Run(self, started, None, result))
        return result

    def _wrap(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """The decorator's wrapper: the first attempt inlined; after a failure the driver's
        loop goes on (with a budget or a deadline, the wrapper is the driver's own)."""
        if self._budget is not None or self._deadline is not None:
            return super()._wrap(fn)
        retryable, retrying = self._retryable, self._retrying

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                result = fn(*args, **kwargs)
            except BaseException as exc:
                if not retryable(exc):
                    raise
                return retrying(fn, args, kwargs, _Run(self, 0.0, exc, None))
            check = self._retry_if_result
            if check is not None and check(result):
                return retrying(fn, args, kwargs, _Run(self, 0.0, None, result))
            return result

        return wrapper

    def _alink(self, inner: AsyncLink) -> AsyncLink:
        """A pipeline stage: :meth:`_awrap` for a stage's one argument (generated)."""
        if self._budget is not None or self._deadline is not None:
            return super()._alink(inner)
        retryable, aretrying = self._retryable, self._aretrying

        async def link(thunk: Callable[[], Awaitable[Any]]) -> Any:
            try:
                result = await inner(thunk)
            except BaseException as exc:
                if not retryable(exc):
                    raise
                return await aretrying(inner, (thunk,), {}, _Run(self, 0.0, exc, None))
            check = self._retry_if_result
            if check is not None and check(result):
                return await aretrying(inner, (thunk,), {}, _Run(self, 0.0, None, result))
            return result

        return link

    def _link(self, inner: Link) -> Link:
        """A pipeline stage: :meth:`_wrap` for a stage's one argument (generated)."""
        if self._budget is not None or self._deadline is not None:
            return super()._link(inner)
        retryable, retrying = self._retryable, self._retrying

        def link(thunk: Callable[[], Any]) -> Any:
            try:
                result = inner(thunk)
            except BaseException as exc:
                if not retryable(exc):
                    raise
                return retrying(inner, (thunk,), {}, _Run(self, 0.0, exc, None))
            check = self._retry_if_result
            if check is not None and check(result):
                return retrying(inner, (thunk,), {}, _Run(self, 0.0, None, result))
            return result

        return link

    # --- end of generated faces ---

    # -- attempts, for with-blocks: drivers too -------------------------------------------------

    def __iter__(self) -> Iterator[Attempt]:
        """Attempts for a ``with`` block: ``for attempt in retry: with attempt: ...``."""
        run = _Run(self, self._start(), None, None)
        sleep = self._sleep or _clock.sleep
        while True:
            attempt = Attempt(self, run.attempt)
            yield attempt
            if attempt.error is None:
                return
            run.error = attempt.error
            wait = run.next_wait()
            if wait is None:
                raise attempt.error
            if wait > 0:
                sleep(wait)

    async def __aiter__(self) -> AsyncIterator[Attempt]:
        """Attempts for an ``async with`` block: ``async for attempt in retry: ...``."""
        run = _Run(self, self._start(), None, None)
        asleep = self._asleep or _clock.asleep
        while True:
            attempt = Attempt(self, run.attempt)
            yield attempt
            if attempt.error is None:
                return
            run.error = attempt.error
            wait = run.next_wait()
            if wait is None:
                raise attempt.error
            await asleep(wait)

    def _no_with(self) -> str:
        return "a with-block cannot run twice: use `for attempt in retry: with attempt: ...`"


class _Run:
    """The core's memory of one retried call between its attempts: which attempt, the last
    wait, when it started (for the deadline) and the last outcome (no I/O)."""

    __slots__ = ("attempt", "error", "previous", "result", "retry", "started")

    def __init__(
        self, retry: Retry, started: float, error: BaseException | None, result: Any
    ) -> None:
        self.retry = retry
        self.started = started
        self.error = error
        self.result: Any = result
        self.attempt = 1
        self.previous = 0.0

    def next_wait(self) -> float | None:
        """After attempt ``attempt`` failed (``error``) or asked for a retry (``result``): the
        seconds to wait before the next one, or ``None`` to give up on the last outcome."""
        wait = self.retry._next_wait(
            self.attempt, self.previous, self.started, self.error, self.result
        )
        if wait is not None:
            self.previous = wait
            self.attempt += 1
        return wait


class Attempt:
    """One attempt of a retried block; it swallows a retryable error so the loop can go on."""

    __slots__ = ("_retry", "error", "number")

    def __init__(self, retry: Retry, number: int) -> None:
        self._retry = retry
        self.number = number
        self.error: BaseException | None = None

    def __enter__(self) -> Attempt:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool:
        if exc is None or not self._retry._retryable(exc):
            return False
        self.error = exc
        return True

    async def __aenter__(self) -> Attempt:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool:
        return self.__exit__(kind, exc, tb)
