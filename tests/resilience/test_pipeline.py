"""Pipelines: order, composition, faces."""

from __future__ import annotations

import pytest

from buttress.resilience import (
    Bulkhead,
    CircuitBreaker,
    CircuitOpenError,
    Fallback,
    Pipeline,
    PolicyTimeoutError,
    RateLimiter,
    Retry,
    Timeout,
)
from tests.resilience.conftest import FakeClock


def test_retry_outside_breaker_counts_every_attempt(clock: FakeClock) -> None:
    """Retry wraps the breaker: attempts are recorded, and the breaker's opening ends retrying."""
    breaker = CircuitBreaker(minimum_calls=2, window_size=2, wait=60, clock=clock)
    pipeline = Pipeline(Retry(attempts=5, sleep=clock.sleep, jitter="none"), breaker)
    calls = 0

    def down() -> None:
        nonlocal calls
        calls += 1
        raise ConnectionError

    with pytest.raises(CircuitOpenError):
        pipeline.call(down)
    assert calls == 2  # two failures open it; the third attempt is rejected, not retried
    assert breaker.state == "open"


def test_fallback_outermost_answers_rejections(clock: FakeClock) -> None:
    """A fallback at the outside turns any failure below it into an answer."""
    breaker = CircuitBreaker(clock=clock)
    breaker.force_open()
    pipeline = Pipeline(Fallback(Fallback.value("stale")), Retry(attempts=2), breaker)
    assert pipeline.call(lambda: "fresh") == "stale"


def test_standard_order_and_describe() -> None:
    """standard() sorts into fallback, retry, breaker, timeout, bulkhead, rate limiter."""
    parts = [
        RateLimiter.gcra(rate=10, name="rl"),
        Timeout(1, name="t"),
        Bulkhead(name="bh"),
        CircuitBreaker(name="cb"),
        Retry(name="r"),
        Fallback(Fallback.value(0), name="fb"),
    ]
    pipeline = Pipeline.standard(*parts)
    assert [d["name"] for d in pipeline.describe()] == ["fb", "r", "cb", "t", "bh", "rl"]
    assert pipeline.call(lambda a, b=0: a + b, 1, b=2) == 3


def test_with_block_enters_and_exits_in_order(clock: FakeClock) -> None:
    """A pipeline of block-capable policies guards a with-block; inner errors reach outer ones."""
    breaker = CircuitBreaker(minimum_calls=1, window_size=1, clock=clock)
    pipeline = Pipeline(breaker, Timeout(1, clock=clock), Bulkhead(max_concurrent=1))
    with pytest.raises(PolicyTimeoutError), pipeline:
        clock.advance(2)
    assert breaker.state == "open"  # the breaker saw the timeout raised by the inner exit


@pytest.mark.anyio
async def test_async_pipeline() -> None:
    """acall runs through every policy's async face."""
    pipeline = Pipeline(Retry(attempts=3, delay=0), CircuitBreaker(), Timeout(1), Bulkhead())
    attempts = 0

    async def flaky() -> str:
        nonlocal attempts
        attempts += 1
        if attempts < 2:
            raise ConnectionError
        return "ok"

    assert await pipeline.acall(flaky) == "ok"
    assert attempts == 2


@pytest.mark.anyio
async def test_a_pipeline_within_a_pipeline_runs_its_stages_in_place(clock: FakeClock) -> None:
    """A pipeline used as one policy of another contributes its own stages where it stands:
    the outer retry retries through the inner breaker and limiter, arguments pass through, and
    the async face does the same."""
    breaker = CircuitBreaker(minimum_calls=10, clock=clock)
    limiter = RateLimiter.token_bucket(rate=100, clock=clock)
    inner = Pipeline(breaker, limiter)
    outer = Pipeline(Retry(attempts=3, delay=0, sleep=clock.sleep), inner)
    attempts = 0

    def flaky(a: int, *, b: int) -> int:
        nonlocal attempts
        attempts += 1
        if attempts < 3:
            raise ConnectionError
        return a + b

    assert outer.call(flaky, 2, b=3) == 5
    assert breaker.metrics()["calls"] == 3  # each attempt went through the inner breaker
    assert limiter.try_acquire().remaining == 96  # three attempts, then this one

    async def aflaky(a: int) -> int:
        nonlocal attempts
        attempts += 1
        if attempts < 5:
            raise ConnectionError
        return a

    assert await outer.acall(aflaky, 7) == 7
    assert breaker.metrics()["calls"] == 5


def test_bad_pipelines() -> None:
    """Empty pipelines, non-policies, repeated policies and duplicate kinds are refused."""
    retry = Retry()
    with pytest.raises(ValueError, match="at least one policy"):
        Pipeline()
    with pytest.raises(TypeError, match="not a resilience policy"):
        Pipeline(retry, object())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="appears twice"):
        Pipeline(retry, retry)
    with pytest.raises(ValueError, match="same kind"):
        Pipeline.standard(Retry(), Retry())
    with (
        pytest.raises(TypeError, match=r"cannot guard a with-block|a with-block cannot run twice"),
        Pipeline(retry, CircuitBreaker()),
    ):
        pass
