"""A rate limiter whose rate follows the degradation level, and RateLimiter.set_rate itself
(every algorithm; keys keep their state; tiers keep their own limits)."""

from __future__ import annotations

import pytest

from buttress import flags
from buttress.degradation.controller import DegradationController
from buttress.degradation.levels import Level, Levels
from buttress.resilience import RateLimitedError, RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_orders_are_limited_at_orange_and_freed_after() -> None:
    clock = Clock()
    levels = Levels(
        [Level("GREEN", limits={"orders_per_minute": 600}), Level("YELLOW"),
         Level("ORANGE", limits={"orders_per_minute": 6})]
    )  # fmt: skip
    controller = DegradationController(levels, system_metrics=False, clock=clock)
    orders = RateLimiter.token_bucket(rate=1, per=60, clock=clock, name="orders")
    controller.follow_limit(orders, "orders_per_minute", per=60)
    try:
        assert orders.algorithm.limit == 600
        controller.set_override("YELLOW", "no limit of its own", 60)
        assert orders.algorithm.limit == 600  # YELLOW inherits GREEN's
        controller.set_override("ORANGE", "db failover", 600)
        assert orders.algorithm.limit == 6
        granted = sum(orders.try_acquire("shop").allowed for _ in range(20))
        assert granted == 6
        for _ in range(6):  # call() uses the limiter's global key: its own 6
            orders.call(lambda: "order")
        with pytest.raises(RateLimitedError):
            orders.call(lambda: "order")
        controller.clear_override()
        assert orders.algorithm.limit == 600
        clock.now += 60  # a minute at the new rate refills the bucket
        assert orders.try_acquire("shop").allowed
    finally:
        flags.publish(None, frozenset(), {})


@pytest.mark.parametrize(
    "make",
    [
        lambda c: RateLimiter.token_bucket(rate=10, per=1, clock=c),
        lambda c: RateLimiter.gcra(rate=10, per=1, clock=c),
        lambda c: RateLimiter.fixed_window(limit=10, window=1, clock=c),
        lambda c: RateLimiter.sliding_window(limit=10, window=1, clock=c),
        lambda c: RateLimiter.sliding_window(limit=10, window=1, exact=False, clock=c),
    ],
)
def test_set_rate_keeps_the_algorithm_and_the_state(make: object) -> None:
    clock = Clock()
    limiter = make(clock)  # type: ignore[operator]
    kind = type(limiter.algorithm)
    for _ in range(3):
        assert limiter.try_acquire("k").allowed
    limiter.set_rate(rate=4, per=1)
    assert type(limiter.algorithm) is kind
    assert limiter.algorithm.limit == 4
    granted = sum(limiter.try_acquire("k").allowed for _ in range(10))
    if kind.__name__ == "GCRA":
        assert granted == 2  # GCRA keeps its arrival time: the new interval decides
    else:
        assert granted == 1  # what was used is kept: 3 of the new 4
    assert sum(limiter.try_acquire("fresh").allowed for _ in range(10)) == 4


def test_set_rate_leaves_tiers_alone() -> None:
    from buttress.resilience.rate_limit.token_bucket import TokenBucket

    limiter = RateLimiter(
        TokenBucket(10), tiers={"premium": TokenBucket(100)},
        tier_of=lambda k: "premium" if k.startswith("p") else None,
    )  # fmt: skip
    limiter.set_rate(rate=2)
    assert sum(limiter.try_acquire("free").allowed for _ in range(10)) == 2
    assert sum(limiter.try_acquire("pro").allowed for _ in range(50)) == 50
