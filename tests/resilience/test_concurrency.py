"""Many threads and tasks through one policy: no lost updates, no deadlock, no leaked permits."""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import Callable

import pytest

from buttress.resilience import (
    Bulkhead,
    BulkheadFullError,
    CircuitBreaker,
    RateLimitedError,
    RateLimiter,
    Retry,
    RetryBudget,
)

THREADS = 8


def in_threads(
    fn: Callable[[int], None], n: int = THREADS, switch_interval: float | None = None
) -> None:
    """Run ``fn(i)`` in ``n`` threads started together; with ``switch_interval``, under that
    interpreter thread-switch interval (very small: as many switches as it allows)."""
    if switch_interval is not None:
        previous = sys.getswitchinterval()
        sys.setswitchinterval(switch_interval)
        try:
            in_threads(fn, n)
        finally:
            sys.setswitchinterval(previous)
        return
    errors: list[BaseException] = []
    start = threading.Barrier(n)

    def run(i: int) -> None:
        start.wait()
        try:
            fn(i)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
        assert not t.is_alive(), "deadlock: a thread did not finish"
    assert errors == []


def test_breaker_counts_every_outcome_from_threads() -> None:
    """8 threads x 2,000 calls, a quarter failing: the window counts every one."""
    breaker = CircuitBreaker(window_size=100_000, minimum_calls=100_000)

    def work(i: int) -> None:
        for n in range(2000):
            if n % 4 == 0:
                with pytest.raises(ValueError, match="boom"):
                    breaker.call(_fail)
            else:
                breaker.call(int)

    in_threads(work)
    metrics = breaker.metrics()
    assert metrics["calls"] == THREADS * 2000
    assert metrics["failures"] == THREADS * 500


def _fail() -> None:
    raise ValueError("boom")


def test_rate_limiter_grants_exactly_the_limit_across_threads() -> None:
    """A fixed window of 1,000 shared by 8 threads grants exactly 1,000, never more."""
    now = [0.0]
    limiter = RateLimiter.fixed_window(limit=1000, window=1e9, clock=lambda: now[0])
    granted = [0] * THREADS

    def work(i: int) -> None:
        for _ in range(500):
            if limiter.try_acquire("shared").allowed:
                granted[i] += 1

    in_threads(work)
    assert sum(granted) == 1000


@pytest.mark.parametrize("kind", ["token_bucket", "gcra"])
def test_async_decorated_limiter_grants_exactly_its_burst_across_event_loops(kind: str) -> None:
    """8 threads, each with its own event loop, through one limiter's async decorator (the
    inlined path), with as many thread switches as the interpreter allows: exactly the burst
    passes, the rest is refused, and sync callers sharing it count against the same burst."""
    limiter: RateLimiter = getattr(RateLimiter, kind)(rate=1e-6, per=1.0, burst=1000)
    granted = [0] * THREADS

    @limiter
    async def guarded() -> None:
        return None

    async def loop_work(i: int) -> None:
        for _ in range(200):
            try:
                await guarded()
            except RateLimitedError:
                continue
            granted[i] += 1

    def work(i: int) -> None:
        if i % 4 == 0:  # a plain thread on the sync face of the same limiter
            for _ in range(200):
                if limiter.try_acquire().allowed:
                    granted[i] += 1
            return
        asyncio.run(loop_work(i))

    in_threads(work, switch_interval=1e-6)
    assert sum(granted) == 1000
    assert limiter._lock.held == [None]  # the mutex is free again


def test_bulkhead_never_exceeds_its_limit_across_threads() -> None:
    """16 threads through a bulkhead of 3 with a queue: never more than 3 at once, none lost."""
    bulkhead = Bulkhead(max_concurrent=3, max_queue=64)
    lock = threading.Lock()
    inside, peak, done = [0], [0], [0]

    def body() -> None:
        with lock:
            inside[0] += 1
            peak[0] = max(peak[0], inside[0])
        with lock:
            inside[0] -= 1
            done[0] += 1

    def work(i: int) -> None:
        for _ in range(300):
            bulkhead.call(body)

    in_threads(work, 16)
    assert peak[0] <= 3
    assert done[0] == 16 * 300
    assert (bulkhead.active, bulkhead.queued) == (0, 0)


def test_bulkhead_hands_over_every_released_slot_under_forced_thread_switches() -> None:
    """Free slots are taken without a lock: with the interpreter switching threads as often as
    it can, waiters that queue while slots come back are never forgotten (half the threads
    wait without a time limit, so a lost wake-up hangs the test) and no slot is lost."""
    bulkhead = Bulkhead(max_concurrent=2, max_queue=16)
    counts = {"ran": 0, "full": 0}
    lock = threading.Lock()

    def work(i: int) -> None:
        for _ in range(200):
            try:
                if i % 2:
                    bulkhead.call(lambda: None)
                else:
                    with bulkhead.slot(timeout=0.0005):
                        pass
            except BulkheadFullError:
                with lock:
                    counts["full"] += 1
            else:
                with lock:
                    counts["ran"] += 1

    in_threads(work, switch_interval=1e-5)
    assert counts["ran"] + counts["full"] == THREADS * 200
    assert (bulkhead.active, bulkhead.queued) == (0, 0)
    with (  # both slots are still there, and no third
        bulkhead.slot(timeout=0),
        bulkhead.slot(timeout=0),
        pytest.raises(BulkheadFullError),
        bulkhead.slot(timeout=0),
    ):
        pass


def test_retry_budget_is_not_overdrawn_across_threads() -> None:
    """Concurrent withdrawals never take more retries than the budget allows."""
    budget = RetryBudget(ratio=0.0, min_per_second=50, ttl=2)
    taken = [0] * THREADS

    def work(i: int) -> None:
        for _ in range(100):
            if budget.try_withdraw():
                taken[i] += 1

    in_threads(work)
    assert sum(taken) <= 100


@pytest.mark.anyio
async def test_thousand_tasks_through_a_pipeline_of_limits() -> None:
    """1,000 tasks through a bulkhead and a retry: all finish, peak within the limit, no leak."""
    bulkhead = Bulkhead(max_concurrent=10, max_queue=1000)
    retry = Retry(attempts=3, delay=0, retry_on=ConnectionError)
    inside, peak = [0], [0]
    tries: dict[int, int] = {}

    async def job(i: int) -> int:
        tries[i] = tries.get(i, 0) + 1
        inside[0] += 1
        peak[0] = max(peak[0], inside[0])
        await asyncio.sleep(0)
        inside[0] -= 1
        if i % 10 == 0 and tries[i] == 1:
            raise ConnectionError  # every tenth job fails once and is retried
        return i

    results = await asyncio.gather(*[retry.acall(bulkhead.acall, job, i) for i in range(1000)])
    assert sorted(results) == list(range(1000))
    assert peak[0] <= 10
    assert sum(tries.values()) == 1100
    assert (bulkhead.active, bulkhead.queued) == (0, 0)


@pytest.mark.anyio
async def test_cancelling_half_of_many_waiting_tasks_leaks_nothing() -> None:
    """2,000 tasks queued on a bulkhead, half cancelled at random moments: slots all return."""
    bulkhead = Bulkhead(max_concurrent=5, max_queue=2000)

    async def job() -> None:
        await asyncio.sleep(0.0005)

    tasks = [asyncio.ensure_future(bulkhead.acall(job)) for _ in range(2000)]
    for i, task in enumerate(tasks):
        if i % 2:
            task.cancel()
        if i % 100 == 0:
            await asyncio.sleep(0)
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert not any(isinstance(r, BulkheadFullError) for r in results)
    assert (bulkhead.active, bulkhead.queued) == (0, 0)
