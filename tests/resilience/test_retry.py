"""Retry: attempts, backoff, jitter, Retry-After, deadline, budget, hooks, events, faces."""

from __future__ import annotations

import random

import pytest

from buttress.resilience import (
    BulkheadFullError,
    CircuitOpenError,
    ConstantBackoff,
    ExponentialBackoff,
    LinearBackoff,
    Pipeline,
    PolicyTimeoutError,
    RateLimitedError,
    Retry,
    RetryBudget,
    Timeout,
    events,
)
from buttress.resilience.backoff import apply_jitter
from buttress.resilience.retry import retry_after_hint
from buttress.resilience.testing import set_testing
from tests.resilience.conftest import FakeClock


class Flaky:
    """Fails ``failures`` times with ``exc``, then returns ``value``."""

    def __init__(
        self, failures: int, exc: BaseException | None = None, value: object = "ok"
    ) -> None:
        self.failures = failures
        self.exc = exc or ConnectionError("down")
        self.value = value
        self.calls = 0

    def __call__(self, *args: object) -> object:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.exc
        return self.value


def retry(clock: FakeClock, **kw: object) -> Retry:
    settings: dict[str, object] = {"jitter": "none", "delay": 0.1}
    settings.update(kw)
    return Retry(clock=clock, sleep=clock.sleep, asleep=clock.asleep, **settings)  # type: ignore[arg-type]


def test_retries_until_success(clock: FakeClock) -> None:
    """Failures are retried with exponential waits until a success."""
    fn = Flaky(2)
    assert retry(clock, attempts=3).call(fn) == "ok"
    assert fn.calls == 3
    assert clock.slept == [0.1, 0.2]


def test_gives_up_reraising_the_callers_exception(clock: FakeClock) -> None:
    """After the last attempt the caller's own exception propagates, not a wrapper."""
    error = ConnectionError("still down")
    fn = Flaky(10, error)
    with pytest.raises(ConnectionError) as info:
        retry(clock, attempts=3).call(fn)
    assert info.value is error
    assert fn.calls == 3


def test_non_retryable_exception_propagates_at_once(clock: FakeClock) -> None:
    """An exception outside retry_on is raised on the first attempt."""
    fn = Flaky(1, KeyError("k"))
    with pytest.raises(KeyError):
        retry(clock, retry_on=ConnectionError).call(fn)
    assert fn.calls == 1


def test_rejections_are_not_retried_by_default(clock: FakeClock) -> None:
    """An open breaker downstream is not hammered by retries."""
    fn = Flaky(5, CircuitOpenError("db", 30.0))
    with pytest.raises(CircuitOpenError):
        retry(clock).call(fn)
    assert fn.calls == 1


def test_a_policy_timeout_is_retried_by_default(clock: FakeClock) -> None:
    """A Timeout inside the Retry bounds each attempt: an attempt it cut is tried again."""
    timeout = Timeout(0.1, clock=clock)
    calls = 0

    def slow_then_fast() -> str:
        nonlocal calls
        calls += 1
        if calls == 1:
            clock.advance(0.2)  # the first attempt overruns its 0.1 s
        return "ok"

    assert Pipeline(retry(clock, delay=0), timeout).call(slow_then_fast) == "ok"
    assert calls == 2
    exhausted = Flaky(5, PolicyTimeoutError("t", 0.1))
    with pytest.raises(PolicyTimeoutError):
        retry(clock, attempts=3).call(exhausted)
    assert exhausted.calls == 3


@pytest.mark.anyio
async def test_an_async_attempt_cut_by_its_timeout_is_retried() -> None:
    """The async twin: the cancelled first attempt is retried, the second one answers."""
    import asyncio

    calls = 0

    async def slow_then_fast() -> str:
        nonlocal calls
        calls += 1
        if calls == 1:
            await asyncio.sleep(5)  # cancelled at the 0.05 s deadline
        return "ok"

    pipeline = Pipeline(Retry(attempts=3, delay=0), Timeout(0.05))
    assert await pipeline.acall(slow_then_fast) == "ok"
    assert calls == 2


@pytest.mark.parametrize(
    "rejection",
    [
        CircuitOpenError("db", 30.0),
        BulkheadFullError("pool", "no free slot"),
        RateLimitedError("api", 1.0),
    ],
)
def test_other_rejections_are_retried_only_when_named(
    clock: FakeClock, rejection: Exception
) -> None:
    """An open breaker, a full bulkhead or a rate limit is retried only when retry_on names it."""
    fn = Flaky(5, rejection)
    with pytest.raises(type(rejection)):
        retry(clock).call(fn)
    assert fn.calls == 1
    named = Flaky(1, rejection)
    assert retry(clock, retry_on=type(rejection)).call(named) == "ok"
    assert named.calls == 2


def test_retry_on_predicate(clock: FakeClock) -> None:
    """retry_on accepts a predicate over the exception."""
    fn = Flaky(1, OSError(11, "again"))
    assert (
        retry(clock, retry_on=lambda e: isinstance(e, OSError) and e.errno == 11).call(fn) == "ok"
    )


def test_retry_if_result(clock: FakeClock) -> None:
    """A result can ask for a retry; the last such result is returned when attempts run out."""
    answers = iter([503, 503, 200])
    assert retry(clock, retry_if_result=lambda r: r == 503).call(lambda: next(answers)) == 200
    assert retry(clock, attempts=2, retry_if_result=lambda r: r == 503).call(lambda: 503) == 503


@pytest.mark.parametrize(
    ("backoff", "expected"),
    [
        (ConstantBackoff(0.5), [0.5, 0.5, 0.5, 0.5]),
        (LinearBackoff(0.5, 1.0, max_delay=2.0), [0.5, 1.5, 2.0, 2.0]),
        (ExponentialBackoff(0.5, 3.0, max_delay=10.0), [0.5, 1.5, 4.5, 10.0]),
    ],
)
def test_backoff_shapes(clock: FakeClock, backoff: object, expected: list[float]) -> None:
    """Constant, linear and exponential backoff with their caps."""
    with pytest.raises(ConnectionError):
        retry(clock, attempts=5, backoff=backoff).call(Flaky(9))
    assert clock.slept == pytest.approx(expected)


@pytest.mark.parametrize("kind", ["full", "equal", "decorrelated"])
def test_jitter_stays_in_bounds(kind: str) -> None:
    """Jittered waits stay within the documented ranges."""
    rng = random.Random(7)
    previous = 0.1
    for attempt in range(1, 200):
        wait = min(0.1 * 2 ** min(attempt, 20), 5.0)
        got = apply_jitter(kind, wait, previous, 0.1, 5.0, rng.random)  # type: ignore[arg-type]
        if kind == "full":
            assert 0 <= got <= wait
        elif kind == "equal":
            assert wait / 2 <= got <= wait
        else:
            assert 0.1 <= got <= min(5.0, max(0.1, previous * 3))
        previous = got


def test_retry_after_hint_is_honoured(clock: FakeClock) -> None:
    """A Retry-After carried by the exception sets a longer wait."""

    class Throttled(Exception):
        retry_after = 2.5

    assert retry(clock).call(Flaky(1, Throttled())) == "ok"
    assert clock.slept == [2.5]


def test_retry_after_header_on_a_response(clock: FakeClock) -> None:
    """A result with a Retry-After header (seconds or HTTP date) is understood."""

    class Response:
        def __init__(self, status: int, headers: dict[str, str]) -> None:
            self.status_code = status
            self.headers = headers

    answers = iter([Response(429, {"Retry-After": "3"}), Response(200, {})])
    result = retry(clock, retry_if_result=lambda r: r.status_code == 429).call(
        lambda: next(answers)
    )
    assert result.status_code == 200
    assert clock.slept == [3.0]
    assert retry_after_hint(Response(503, {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})) == 0.0
    assert retry_after_hint(Response(503, {"Retry-After": "soon"})) is None


def test_too_long_retry_after_gives_up(clock: FakeClock) -> None:
    """A hint longer than max_retry_after is not waited for."""

    class Throttled(Exception):
        retry_after = 600.0

    with pytest.raises(Throttled):
        retry(clock, max_retry_after=60).call(Flaky(1, Throttled()))
    assert clock.slept == []


def test_deadline_stops_retrying(clock: FakeClock) -> None:
    """No attempt starts when its wait would end after the overall deadline."""
    fn = Flaky(99)
    with pytest.raises(ConnectionError):
        retry(clock, attempts=50, backoff=ConstantBackoff(1.0), deadline=3.5).call(fn)
    assert fn.calls == 4  # at t=0, 1, 2, 3; the next would start at 4 > 3.5


def test_budget_caps_retries_across_calls(clock: FakeClock) -> None:
    """A shared budget allows a share of calls plus a floor, then stops retrying."""
    budget = RetryBudget(ratio=0.5, min_per_second=0, ttl=10, clock=clock)
    policy = retry(clock, attempts=2, budget=budget, backoff=ConstantBackoff(0.0))
    calls = 0
    for _ in range(10):
        fn = Flaky(99)
        with pytest.raises(ConnectionError):
            policy.call(fn)
        calls += fn.calls
    assert calls == 10 + 5  # 10 first attempts, retries limited to 50% of them
    assert budget.snapshot()["retries"] == 5


def test_budget_floor_and_expiry(clock: FakeClock) -> None:
    """The floor allows retries with no traffic; counts expire after ttl seconds."""
    budget = RetryBudget(ratio=0.0, min_per_second=0.2, ttl=10, clock=clock)
    assert budget.try_withdraw()
    assert budget.try_withdraw()
    assert not budget.try_withdraw()  # 0.2/s * 10 s = 2
    clock.advance(11)
    assert budget.try_withdraw()


def test_before_sleep_hook_and_events(clock: FakeClock) -> None:
    """before_sleep and listeners see each scheduled retry, then the give-up."""
    hooked: list[tuple[int, float]] = []
    seen: list[events.Event] = []
    policy = retry(
        clock,
        attempts=3,
        before_sleep=lambda n, w, e, r: hooked.append((n, w)),
        listeners=(seen.append,),
    )
    with pytest.raises(ConnectionError):
        policy.call(Flaky(9))
    assert hooked == [(1, 0.1), (2, 0.2)]
    kinds = [type(e).__name__ for e in seen]
    assert kinds == ["RetryScheduled", "RetryScheduled", "RetryGaveUp"]
    gave_up = seen[-1]
    assert isinstance(gave_up, events.RetryGaveUp)
    assert (gave_up.attempts, gave_up.reason) == (3, "attempts")


def test_attempts_for_with_blocks(clock: FakeClock) -> None:
    """`for attempt in retry: with attempt:` retries a block and re-raises at the end."""
    runs = 0
    for attempt in retry(clock, attempts=3):
        with attempt:
            runs += 1
            if runs < 2:
                raise ConnectionError
    assert runs == 2

    def always_failing_block() -> None:
        for attempt in retry(clock, attempts=2):
            with attempt:
                raise ConnectionError

    with pytest.raises(ConnectionError):
        always_failing_block()


def test_plain_with_is_refused(clock: FakeClock) -> None:
    """A plain with-block is refused with the pattern to use instead."""
    with pytest.raises(TypeError, match="for attempt in retry"), retry(clock):
        pass


def test_decorator(clock: FakeClock) -> None:
    """The decorator retries and keeps the function's name."""
    fn = Flaky(1)

    @retry(clock)
    def wrapped() -> object:
        return fn()

    assert wrapped() == "ok"
    assert wrapped.__name__ == "wrapped"


def test_set_testing_disables_retries(clock: FakeClock) -> None:
    """Within set_testing(attempts=1) no retry happens; the setting is restored after."""
    policy = retry(clock, attempts=5)
    fn = Flaky(1)
    with set_testing(attempts=1), pytest.raises(ConnectionError):
        policy.call(fn)
    assert fn.calls == 1
    assert policy.call(fn) == "ok"


@pytest.mark.anyio
async def test_async_twin(clock: FakeClock) -> None:
    """acall, async decorator and async attempts retry with the async sleep."""
    fn = Flaky(2)

    async def call() -> object:
        return fn()

    assert await retry(clock).acall(call) == "ok"
    assert clock.slept == [0.1, 0.2]

    @retry(clock, attempts=2)
    async def always() -> None:
        raise ConnectionError

    with pytest.raises(ConnectionError):
        await always()
    runs = 0
    async for attempt in retry(clock, attempts=3):
        async with attempt:
            runs += 1
            if runs < 3:
                raise ConnectionError
    assert runs == 3


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"attempts": 0}, "attempts=0"),
        ({"attempts": 1.5}, "attempts=1.5"),
        ({"deadline": 0}, "deadline=0"),
        ({"jitter": "wild"}, "unknown jitter 'wild'"),
        ({"backoff": "fibonacci"}, "unknown backoff 'fibonacci'"),
        ({"delay": -1}, "expected seconds"),
        ({"max_retry_after": -1}, "max_retry_after=-1"),
    ],
)
def test_bad_settings(kwargs: dict[str, object], fragment: str) -> None:
    """Invalid settings fail at construction with the field named."""
    with pytest.raises(ValueError, match=fragment):
        Retry(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("make", "fragment"),
    [
        (lambda: ExponentialBackoff(multiplier=0.5), "multiplier=0.5"),
        (lambda: ConstantBackoff(-1), "delay=-1"),
        (lambda: RetryBudget(ratio=-1), "ratio=-1"),
        (lambda: RetryBudget(ttl=0), "ttl=0"),
    ],
)
def test_bad_backoff_and_budget(make: object, fragment: str) -> None:
    """Backoff and budget numbers are validated too."""
    assert callable(make)
    with pytest.raises(ValueError, match=fragment):
        make()
