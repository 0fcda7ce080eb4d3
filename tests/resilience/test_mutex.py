"""The list-item mutex the rate limiter uses: exclusion, waiting, release after errors."""

from __future__ import annotations

import time

import pytest

from buttress.resilience import RateLimiter
from buttress.resilience._mutex import Mutex
from tests.resilience.test_concurrency import THREADS, in_threads


def test_sections_exclude_each_other_even_when_they_yield() -> None:
    """A section that gives up the GIL halfway (read, sleep, write) loses no update: the
    other threads wait in Mutex.wait until it is done."""
    mutex = Mutex()
    count = [0]

    def work(_: int) -> None:
        for _ in range(200):
            with mutex:
                seen = count[0]
                time.sleep(0)  # another thread runs now, and must not enter
                count[0] = seen + 1

    in_threads(work)
    assert count[0] == THREADS * 200
    assert mutex.held == [None]


def test_an_error_in_the_section_releases_the_mutex() -> None:
    mutex = Mutex()
    with pytest.raises(ZeroDivisionError), mutex:
        _ = 1 / 0
    assert mutex.held == [None]


def test_the_limiter_grants_exactly_its_limit_with_constant_thread_switches() -> None:
    """The limiter's inlined mutex under the most frequent thread switches the interpreter
    allows: a fixed window of 500 grants exactly 500 to 8 threads asking 2,000 times."""
    limiter = RateLimiter.fixed_window(limit=500, window=3600)
    granted = [0] * THREADS

    def work(i: int) -> None:
        for _ in range(250):
            if limiter.try_acquire().allowed:
                granted[i] += 1

    in_threads(work, switch_interval=1e-6)
    assert sum(granted) == 500
    assert limiter._lock.held == [None]
