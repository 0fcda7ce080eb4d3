"""Circuit breaker: stop calling a dependency that fails, probe it, resume when it recovers.

States (as in resilience4j): ``closed`` (calls run, outcomes are recorded in a sliding window),
``open`` (calls are rejected with :class:`CircuitOpenError` until the wait is over),
``half_open`` (``half_open_calls`` probe calls run; their failure rate decides closed or open
again), plus the manual ``forced_open`` (reject everything), ``forced_closed`` (run
everything, keep recording, never trip) and ``disabled`` (run everything, record nothing).

The hot path: while the breaker is closed and its window holds only successes, a call takes no
lock and reads no clock; outcomes are recorded under a lock only once something has failed.
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeVar

from buttress._clock import Clock, monotonic
from buttress.resilience import events
from buttress.resilience._handles import ExceptionRule, ResultRule, exception_rule
from buttress.resilience._policy import AsyncLink, Link, Policy, plain
from buttress.resilience.errors import CircuitOpenError
from buttress.state._base import OnStoreFailure, StateStore

if TYPE_CHECKING:
    from buttress.resilience._shared_breaker import SharedCircuitBreaker

__all__ = ["CircuitBreaker", "CircuitBreakerOptions", "CircuitState"]

T = TypeVar("T")

CircuitState = Literal["closed", "open", "half_open", "forced_open", "forced_closed", "disabled"]

DEFAULT_FAILURE_RATE = 50.0
DEFAULT_WINDOW_SIZE = 100
DEFAULT_MINIMUM_CALLS = 10
DEFAULT_WAIT = 60.0
DEFAULT_HALF_OPEN_CALLS = 10

# outcome codes stored in the window: bit 0 = failure, bit 1 = slow
_OK, _FAIL, _SLOW, _SLOW_FAIL = 0, 1, 2, 3


@dataclass(frozen=True, slots=True)
class CircuitBreakerOptions:
    """A breaker's settings, validated once.

    Args:
        failure_rate: percent of failed calls in the window (0 < x <= 100) that opens the breaker.
        slow_call_rate: percent of slow calls (0 < x <= 100) that opens it.
        slow_call_duration: seconds above which a call counts as slow; ``None``: not tracked.
        window: ``"count"`` (the last ``window_size`` calls) or ``"time"`` (the calls of the
            last ``window_size`` seconds).
        window_size: calls or seconds, >= 1.
        minimum_calls: calls the window must hold before the rates are judged, >= 1.
        wait: seconds the breaker stays open before letting probes through (> 0).
        wait_multiplier: each consecutive re-open multiplies the wait by this (>= 1; 1 = fixed).
        max_wait: cap of the growing wait, seconds (default: 10 x ``wait`` when it grows).
        half_open_calls: probe calls allowed in half-open; their failure rate decides (>= 1).
    """

    failure_rate: float = DEFAULT_FAILURE_RATE
    slow_call_rate: float = 100.0
    slow_call_duration: float | None = None
    window: Literal["count", "time"] = "count"
    window_size: int = DEFAULT_WINDOW_SIZE
    minimum_calls: int = DEFAULT_MINIMUM_CALLS
    wait: float = DEFAULT_WAIT
    wait_multiplier: float = 1.0
    max_wait: float | None = None
    half_open_calls: int = DEFAULT_HALF_OPEN_CALLS

    def __post_init__(self) -> None:
        _check(
            0 < self.failure_rate <= 100,
            "failure_rate",
            self.failure_rate,
            "a percentage in (0, 100]",
        )
        _check(
            0 < self.slow_call_rate <= 100,
            "slow_call_rate",
            self.slow_call_rate,
            "a percentage in (0, 100]",
        )
        _check(
            self.slow_call_duration is None or self.slow_call_duration > 0,
            "slow_call_duration",
            self.slow_call_duration,
            "seconds > 0 (or None)",
        )
        _check(self.window in ("count", "time"), "window", self.window, "'count' or 'time'")
        _check(
            isinstance(self.window_size, int) and self.window_size >= 1,
            "window_size",
            self.window_size,
            "an integer >= 1",
        )
        _check(
            isinstance(self.minimum_calls, int) and self.minimum_calls >= 1,
            "minimum_calls",
            self.minimum_calls,
            "an integer >= 1",
        )
        _check(self.wait > 0, "wait", self.wait, "seconds > 0")
        _check(self.wait_multiplier >= 1, "wait_multiplier", self.wait_multiplier, ">= 1")
        _check(
            self.max_wait is None or self.max_wait >= self.wait,
            "max_wait",
            self.max_wait,
            ">= wait",
        )
        _check(
            isinstance(self.half_open_calls, int) and self.half_open_calls >= 1,
            "half_open_calls",
            self.half_open_calls,
            "an integer >= 1",
        )


def _check(ok: bool, field: str, value: object, expected: str) -> None:
    if not ok:
        raise ValueError(f"circuit breaker {field}={value!r}: expected {expected}")


class _CountWindow:
    """The last ``size`` outcomes in a ring buffer, with running totals."""

    __slots__ = ("buf", "failures", "filled", "idx", "size", "slows")

    def __init__(self, size: int) -> None:
        self.size = size
        self.reset()

    def reset(self) -> None:
        self.buf = bytearray(self.size)
        self.idx = self.filled = self.failures = self.slows = 0

    def record(self, outcome: int, _now: float) -> None:
        i = self.idx
        if self.filled == self.size:
            old = self.buf[i]
            self.failures -= old & 1
            self.slows -= old >> 1
        else:
            self.filled += 1
        self.buf[i] = outcome
        self.failures += outcome & 1
        self.slows += outcome >> 1
        self.idx = i + 1 if i + 1 < self.size else 0

    def totals(self, _now: float) -> tuple[int, int, int]:
        return self.filled, self.failures, self.slows

    @property
    def saturated_clean(self) -> bool:
        return self.filled == self.size and self.failures == 0 and self.slows == 0


class _TimeWindow:
    """The outcomes of the last ``size`` seconds in one-second buckets, with running totals."""

    __slots__ = (
        "calls",
        "failures",
        "last",
        "size",
        "slows",
        "stamp",
        "total",
        "total_f",
        "total_s",
    )

    def __init__(self, size: int) -> None:
        self.size = size
        self.reset()

    def reset(self) -> None:
        n = self.size
        self.stamp = [-1] * n
        self.calls = [0] * n
        self.failures = [0] * n
        self.slows = [0] * n
        self.total = self.total_f = self.total_s = 0
        self.last = -1

    def _advance(self, sec: int) -> None:
        if sec <= self.last:
            return
        start = max(self.last + 1, sec - self.size + 1)
        for s in range(start, sec + 1):
            b = s % self.size
            if self.stamp[b] != s:
                self.total -= self.calls[b]
                self.total_f -= self.failures[b]
                self.total_s -= self.slows[b]
                self.stamp[b] = s
                self.calls[b] = self.failures[b] = self.slows[b] = 0
        if sec - self.last >= self.size:  # the whole window expired
            self.total = self.total_f = self.total_s = 0
        self.last = sec

    def record(self, outcome: int, now: float) -> None:
        sec = int(now)
        self._advance(sec)
        b = sec % self.size
        self.calls[b] += 1
        self.failures[b] += outcome & 1
        self.slows[b] += outcome >> 1
        self.total += 1
        self.total_f += outcome & 1
        self.total_s += outcome >> 1

    def totals(self, now: float) -> tuple[int, int, int]:
        self._advance(int(now))
        return self.total, self.total_f, self.total_s

    @property
    def saturated_clean(self) -> bool:
        return False  # successes must be counted per second, so there is no lock-free path


class CircuitBreaker(Policy):
    """Stops calls to a failing dependency and probes it until it recovers.

    >>> breaker = CircuitBreaker(name="db", failure_rate=50, minimum_calls=5, wait=30)
    >>> breaker.call(lambda: 42)
    42

    All arguments are keyword-only; see :class:`CircuitBreakerOptions` for the numbers.

    Args:
        record_on: exceptions that count as failures (types or predicate; default ``Exception``).
        ignore_on: exceptions that count as neither failure nor success (checked first).
        failure_if_result: predicate marking a returned value as a failure.
        clock: seconds source (``time.monotonic``); pass a fake one in tests.
        store: ``None`` or an in-process store: state in this process. For state shared
            across processes, build the breaker with :meth:`shared` (a
            :class:`SharedCircuitBreaker`).
        on_store_failure: for a shared breaker, while its store does not answer: ``local``
            (judge by this process's own calls), ``allow`` (let every call through) or
            ``deny`` (reject).

    .. versionadded:: 0.1
    """

    _shared_via: ClassVar[str | None] = "CircuitBreaker.shared"

    @classmethod
    def shared(
        cls,
        *,
        name: str,
        store: StateStore,
        on_store_failure: OnStoreFailure = "local",
        **kwargs: Any,
    ) -> SharedCircuitBreaker:
        """A breaker whose state and window are shared by every process naming it: ``store``
        is a shared store (:class:`~buttress.state.RedisStore`); the other arguments are the
        constructor's. See docs/shared-state.md.

        Raises:
            ValueError: ``store`` keeps its state in this process (nothing to share).
        """
        from buttress.resilience._shared_breaker import SharedCircuitBreaker

        return SharedCircuitBreaker(
            name=name, store=store, on_store_failure=on_store_failure, **kwargs
        )

    def __init__(
        self,
        *,
        name: str | None = None,
        options: CircuitBreakerOptions | None = None,
        record_on: ExceptionRule | None = Exception,
        ignore_on: ExceptionRule | None = None,
        failure_if_result: ResultRule | None = None,
        clock: Clock = monotonic,
        listeners: tuple[events.Listener, ...] = (),
        store: StateStore | None = None,
        on_store_failure: OnStoreFailure = "local",
        **settings: Any,
    ) -> None:
        self._init_policy(name, "circuit_breaker", listeners)
        self._init_store(store, on_store_failure)
        if options is not None and settings:
            raise TypeError("pass either options= or individual settings, not both")
        try:
            self.options = options or CircuitBreakerOptions(**settings)
        except TypeError as exc:
            raise TypeError(f"circuit breaker: {exc}") from None
        o = self.options
        self._record_on = exception_rule(record_on, "record_on")
        self._ignore_on = exception_rule(ignore_on, "ignore_on")
        self._failure_if_result = failure_if_result
        self._clock = clock
        self._slow = o.slow_call_duration
        self._window: _CountWindow | _TimeWindow = (
            _CountWindow(o.window_size) if o.window == "count" else _TimeWindow(o.window_size)
        )
        self._lock = threading.Lock()
        self._state: CircuitState = "closed"
        self._gen = 0
        self._open_until = 0.0
        self._opens = 0  # consecutive openings, for the growing wait
        self._probes = self._probe_results = self._probe_failures = self._probe_slows = 0
        # >= 0: the generation of a closed breaker whose window is clean, so successes need no
        # recording; -1: every call takes the recording path.
        self._fast_gen = -1
        self._simple = self._slow is None and failure_if_result is None
        self._needs_now = self._slow is not None or o.window == "time"

    # -- public state and controls -------------------------------------------------------------

    def settings(self) -> dict[str, Any]:
        out: dict[str, Any] = {k: v for k, v in plain(self.options).items() if k != "kind"}
        return out

    @property
    def state(self) -> CircuitState:
        """The current state (an open breaker whose wait is over reports ``half_open``)."""
        if self._state == "open":
            now = self._clock()
            if now >= self._open_until:
                with self._lock:
                    self._maybe_half_open(now)
        return self._state

    def metrics(self) -> dict[str, float]:
        """Calls, failures and slow calls in the window, and the rates (percent)."""
        with self._lock:
            calls, failures, slows = self._window.totals(self._clock())
        return {
            "calls": calls,
            "failures": failures,
            "slow_calls": slows,
            "failure_rate": 100.0 * failures / calls if calls else 0.0,
            "slow_call_rate": 100.0 * slows / calls if calls else 0.0,
        }

    def sync(self) -> None:
        """With a shared store, send pending outcomes and read the shared state now (the
        store's agent does it every ``sync_interval``); in-process, nothing to do."""

    def force_open(self) -> None:
        """Reject every call until :meth:`reset` (or another manual state)."""
        with self._lock:
            self._transition("forced_open", "forced")

    def force_closed(self) -> None:
        """Run every call and keep recording, but never open, until :meth:`reset`."""
        with self._lock:
            self._transition("forced_closed", "forced")

    def disable(self) -> None:
        """Run every call and record nothing, until :meth:`reset`."""
        with self._lock:
            self._transition("disabled", "disabled")

    def reset(self) -> None:
        """Back to closed with an empty window, whatever the state."""
        with self._lock:
            self._opens = 0
            self._transition("closed", "reset")

    # -- the core: admission and recording (no I/O, never sleeps) ------------------------------

    def _admit(self) -> int:
        """Let a call through (returning the generation it belongs to) or raise CircuitOpenError."""
        state = self._state
        if state == "closed" or state == "forced_closed" or state == "disabled":
            return self._gen
        if state == "open":  # lock-free check of the common open case; a race takes the lock
            now = self._clock()
            until = self._open_until
            if now < until:
                raise self._rejected(until - now)
        with self._lock:
            state = self._state
            if state == "open":
                now = self._clock()
                if now < self._open_until:
                    raise self._rejected(self._open_until - now)
                self._maybe_half_open(now)
                state = self._state
            if state == "half_open":
                if self._probes >= self.options.half_open_calls:
                    raise self._rejected(0.0)
                self._probes += 1
                return self._gen
            if state == "forced_open":
                raise self._rejected(None)
            return self._gen

    def _rejected(self, retry_after: float | None) -> CircuitOpenError:
        """The rejection of a call (``retry_after``: seconds until probes, if known)."""
        if self._listeners or events.global_listeners:
            self._emit(events.CallRejected(self.name, "circuit_open", retry_after))
        return CircuitOpenError(self.name, retry_after)

    def _failed(self, gen: int, exc: BaseException, started: float) -> None:
        """Record a call of generation ``gen`` that raised ``exc``."""
        self._record(gen, self._outcome_of_error(exc), started)

    def _returned(self, gen: int, result: object, started: float) -> None:
        """Record a call of generation ``gen`` that returned ``result``."""
        check = self._failure_if_result
        self._record(gen, _FAIL if check is not None and check(result) else _OK, started)

    def _outcome_of_error(self, exc: BaseException) -> int | None:
        ignore = self._ignore_on
        if ignore is not None and ignore(exc):
            return None
        record = self._record_on
        if record is not None and record(exc):
            return _FAIL
        return None if not isinstance(exc, Exception) else _OK

    def _record(self, gen: int, outcome: int | None, started: float) -> None:
        """Record one outcome of generation ``gen`` (``None``: ignored) and judge the window."""
        with self._lock:
            if gen != self._gen:
                return  # admitted under an earlier state; its outcome no longer applies
            state = self._state
            if state == "disabled":
                return
            now = self._clock() if self._needs_now else None
            if (
                outcome is not None
                and self._slow is not None
                and now is not None
                and now - started > self._slow
            ):
                outcome |= _SLOW
            if state == "half_open":
                self._record_probe(outcome, now)
                return
            if outcome is None or state not in ("closed", "forced_closed"):
                return
            window = self._window
            window.record(outcome, now or 0.0)
            if state == "closed":
                if outcome:
                    self._fast_gen = -1  # the window is no longer clean: record every call
                    if self._tripped(now):
                        self._open(now, "failure rate or slow-call rate over threshold")
                elif self._simple and window.saturated_clean:
                    self._fast_gen = self._gen

    def _tripped(self, now: float | None) -> bool:
        calls, failures, slows = self._window.totals(now or 0.0)
        if calls < self.options.minimum_calls:
            return False
        return (
            100.0 * failures >= self.options.failure_rate * calls
            or 100.0 * slows >= self.options.slow_call_rate * calls
        )

    def _record_probe(self, outcome: int | None, now: float | None) -> None:
        if outcome is None:
            self._probes -= 1  # an ignored probe frees its slot for another
            return
        self._probe_results += 1
        self._probe_failures += outcome & 1
        self._probe_slows += outcome >> 1
        needed = self.options.half_open_calls
        if self._probe_results < needed:
            return
        failed = 100.0 * self._probe_failures >= self.options.failure_rate * needed
        slow = 100.0 * self._probe_slows >= self.options.slow_call_rate * needed
        if failed or slow:
            self._open(now, "probe calls failed")
        else:
            self._opens = 0
            self._transition("closed", "probe calls succeeded")

    def _open(self, now: float | None, reason: str) -> None:
        o = self.options
        cap = o.max_wait if o.max_wait is not None else 10 * o.wait
        wait = min(o.wait * o.wait_multiplier**self._opens, cap)
        self._opens += 1
        self._open_until = (self._clock() if now is None else now) + wait
        self._transition("open", reason)

    def _maybe_half_open(self, now: float) -> None:
        if self._state == "open" and now >= self._open_until:
            self._transition("half_open", "wait elapsed")

    def _transition(self, new: CircuitState, reason: str) -> None:
        old = self._state
        self._gen += 1
        self._state = new
        self._fast_gen = -1
        if new in ("closed", "forced_closed", "half_open"):
            self._window.reset()
        self._probes = self._probe_results = self._probe_failures = self._probe_slows = 0
        if new == "disabled":
            self._fast_gen = self._gen
        if old != new and (self._listeners or events.global_listeners):
            self._emit(events.CircuitStateChanged(self.name, old, new, reason))

    # -- drivers: the only code that makes the call ----------------------------------------------
    #
    # Every decision is the core's (_admit, _failed, _returned, _rejected above); a driver only
    # runs the call between them. The closed fast path (a clean window: a success needs no
    # recording) is written by hand twice, in the async driver acall() and in the async
    # decorator wrapper _awrap(); both also inline _admit()'s lock-free open check and the
    # rejection (one frame to unwind, not three: bench "breaker open"; a rejection by call()
    # costs about a quarter less than through _admit() and _rejected()). scripts/gen_faces.py
    # writes the sync driver call(), the sync wrapper _wrap() and the pipeline stages
    # _link()/_alink() from them (a wrapper that went through call() would cost more than the
    # breaker itself, and a stage with a wrapper's *args/**kwargs a tuple and a dict per
    # stage: bench/resilience.py). A test fails when the generated faces are stale;
    # tests/resilience/test_faces.py runs one scenario through every face.

    async def acall(self, fn: Callable[..., Awaitable[T]], /, *args: Any, **kwargs: Any) -> T:
        """Await ``fn(*args, **kwargs)`` if the breaker allows it, and record the outcome (an
        asyncio call that is cancelled counts as neither success nor failure).

        Raises:
            CircuitOpenError: the breaker is open; ``retry_after`` says for how long.
        """
        gen = self._fast_gen
        if gen >= 0:
            try:
                return await fn(*args, **kwargs)
            except BaseException as exc:
                self._failed(gen, exc, 0.0)
                raise
        if self._state == "open":  # _admit()'s first check and _rejected(), inlined
            now = self._clock()
            until = self._open_until
            if now < until:
                if self._listeners or events.global_listeners:
                    self._emit(events.CallRejected(self.name, "circuit_open", until - now))
                raise CircuitOpenError(self.name, until - now)
        gen = self._admit()
        started = self._clock() if self._slow is not None else 0.0
        try:
            result = await fn(*args, **kwargs)
        except BaseException as exc:
            self._failed(gen, exc, started)
            raise
        self._returned(gen, result, started)
        return result

    def _awrap(self, fn: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        """The decorator's wrapper: the fast path, the lock-free open check and the rejection
        inlined, anything else the driver's."""
        failed, acall, clock = self._failed, self.acall, self._clock

        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            gen = self._fast_gen
            if gen >= 0:
                try:
                    return await fn(*args, **kwargs)
                except BaseException as exc:
                    failed(gen, exc, 0.0)
                    raise
            if self._state == "open":  # _admit()'s first check and _rejected(), inlined:
                now = clock()  # a rejection unwinds one frame, not three, and calls nothing
                until = self._open_until
                if now < until:
                    if self._listeners or events.global_listeners:
                        self._emit(events.CallRejected(self.name, "circuit_open", until - now))
                    raise CircuitOpenError(self.name, until - now)
            return await acall(fn, *args, **kwargs)

        return wrapper

    # --- generated by scripts/gen_faces.py from acall and _awrap: do not edit ---

    def call(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """Run ``fn(*args, **kwargs)`` if the breaker allows it, and record the outcome (an
        asyncio call that is cancelled counts as neither success nor failure).

        Raises:
            CircuitOpenError: the breaker is open; ``retry_after`` says for how long.
        """
        gen = self._fast_gen
        if gen >= 0:
            try:
                return fn(*args, **kwargs)
            except BaseException as exc:
                self._failed(gen, exc, 0.0)
                raise
        if self._state == "open":  # _admit()'s first check and _rejected(), inlined
            now = self._clock()
            until = self._open_until
            if now < until:
                if self._listeners or events.global_listeners:
                    self._emit(events.CallRejected(self.name, "circuit_open", until - now))
                raise CircuitOpenError(self.name, until - now)
        gen = self._admit()
        started = self._clock() if self._slow is not None else 0.0
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:
            self._failed(gen, exc, started)
            raise
        self._returned(gen, result, started)
        return result

    def _wrap(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """The decorator's wrapper: the fast path, the lock-free open check and the rejection
        inlined, anything else the driver's."""
        failed, call, clock = self._failed, self.call, self._clock

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            gen = self._fast_gen
            if gen >= 0:
                try:
                    return fn(*args, **kwargs)
                except BaseException as exc:
                    failed(gen, exc, 0.0)
                    raise
            if self._state == "open":  # _admit()'s first check and _rejected(), inlined:
                now = clock()  # a rejection unwinds one frame, not three, and calls nothing
                until = self._open_until
                if now < until:
                    if self._listeners or events.global_listeners:
                        self._emit(events.CallRejected(self.name, "circuit_open", until - now))
                    raise CircuitOpenError(self.name, until - now)
            return call(fn, *args, **kwargs)

        return wrapper

    def _alink(self, inner: AsyncLink) -> AsyncLink:
        """A pipeline stage: :meth:`_awrap` for a stage's one argument (generated)."""
        failed, acall, clock = self._failed, self.acall, self._clock

        async def link(thunk: Callable[[], Awaitable[Any]]) -> Any:
            gen = self._fast_gen
            if gen >= 0:
                try:
                    return await inner(thunk)
                except BaseException as exc:
                    failed(gen, exc, 0.0)
                    raise
            if self._state == "open":  # _admit()'s first check and _rejected(), inlined:
                now = clock()  # a rejection unwinds one frame, not three, and calls nothing
                until = self._open_until
                if now < until:
                    if self._listeners or events.global_listeners:
                        self._emit(events.CallRejected(self.name, "circuit_open", until - now))
                    raise CircuitOpenError(self.name, until - now)
            return await acall(inner, thunk)

        return link

    def _link(self, inner: Link) -> Link:
        """A pipeline stage: :meth:`_wrap` for a stage's one argument (generated)."""
        failed, call, clock = self._failed, self.call, self._clock

        def link(thunk: Callable[[], Any]) -> Any:
            gen = self._fast_gen
            if gen >= 0:
                try:
                    return inner(thunk)
                except BaseException as exc:
                    failed(gen, exc, 0.0)
                    raise
            if self._state == "open":  # _admit()'s first check and _rejected(), inlined:
                now = clock()  # a rejection unwinds one frame, not three, and calls nothing
                until = self._open_until
                if now < until:
                    if self._listeners or events.global_listeners:
                        self._emit(events.CallRejected(self.name, "circuit_open", until - now))
                    raise CircuitOpenError(self.name, until - now)
            return call(inner, thunk)

        return link

    # --- end of generated faces ---

    def _enter(self) -> tuple[int, float]:
        gen = self._admit()
        return gen, self._clock() if self._slow is not None else 0.0

    def _exit(self, token: object, exc: BaseException | None) -> None:
        if not isinstance(token, tuple):  # what _enter returned (costs what an assert did)
            raise TypeError(f"circuit breaker {self.name!r}: exit without its enter")
        gen, started = token
        if exc is None:
            self._record(gen, _OK, started)  # a block has no result to judge
        else:
            self._failed(gen, exc, started)
