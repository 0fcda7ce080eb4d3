"""Policies on a fault-injecting store written against ``SharedStateStore`` alone: shared
while it answers, in their ``on_store_failure`` mode while it fails, shared again after."""

from __future__ import annotations

from buttress.resilience import CircuitBreaker, RateLimiter
from buttress.state import RedisStore
from tests.conftest import wait_until
from tests.state.faulty_store import FaultyStore


def test_policies_on_a_store_that_fails_on_demand(store: RedisStore) -> None:
    faulty = FaultyStore(store)
    limiter = RateLimiter.fixed_window(
        limit=2, window=60, name="faulty", store=faulty, on_store_failure="deny"
    )
    breaker = CircuitBreaker.shared(name="faulty-cb", store=faulty, on_store_failure="allow")
    twin = RateLimiter.fixed_window(limit=2, window=60, name="faulty", store=store)
    try:
        assert limiter.try_acquire("k").allowed
        assert twin.try_acquire("k").allowed  # one shared window behind both stores
        assert limiter.try_acquire("k").reason == "limited"
        assert breaker.call(lambda: 1) == 1
        faulty.agent.run_round()
        assert (limiter.store_mode, breaker.store_mode) == ("shared", "shared")
        assert faulty.injected == 0

        faulty.failing = True
        decision = limiter.try_acquire("other")
        assert (decision.allowed, decision.reason) == (False, "store_deny")
        assert limiter.store_mode == "deny"
        faulty.agent.run_round()  # the breaker's sync round fails
        assert breaker.store_mode == "allow"
        assert breaker.call(lambda: 2) == 2  # allow: no call is rejected while it fails
        assert faulty.injected >= 2

        faulty.failing = False
        wait_until(lambda: limiter.try_acquire("other").allowed, "the limiter to use it again")
        assert limiter.store_mode == "shared"
        assert not limiter.try_acquire("k").allowed  # the shared window was kept meanwhile

        def breaker_back() -> bool:
            faulty.agent.run_round()
            return breaker.store_mode == "shared"

        wait_until(breaker_back, "the breaker to sync again")
    finally:
        faulty.agent.unregister(breaker)
