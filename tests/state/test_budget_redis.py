"""Retry budgets shared through Redis: retries earned by every replica's calls, spent by all."""

from __future__ import annotations

import pytest

from buttress.resilience import Retry, RetryBudget
from buttress.state import RedisStore
from tests.conftest import OwnRedis


def test_calls_in_one_process_earn_retries_for_another(store: RedisStore) -> None:
    other = RedisStore(store.url, prefix=store.prefix)
    a = RetryBudget.shared(name="api", ratio=0.1, min_per_second=0.1, ttl=10, store=store)
    b = RetryBudget.shared(name="api", ratio=0.1, min_per_second=0.1, ttl=10, store=other)
    for _ in range(100):
        a.deposit()
    store.agent.run_round()  # a's calls reach Redis with its next batch
    # floor 0.1/s x 10 s = 1, plus 10% of 100 calls = 11 retries, shared by both processes
    granted = [(a if i % 2 else b).try_withdraw() for i in range(20)]
    assert granted.count(True) == 11
    assert granted[-1] is False
    snap = b.snapshot()
    assert snap["calls"] == 100
    assert snap["retries"] == 11
    assert snap["available"] == 0
    other.close()


def test_a_shared_budget_stops_retries_of_a_retry_policy(store: RedisStore) -> None:
    budget = RetryBudget.shared(name="deps", ratio=0.0, min_per_second=0.2, ttl=10, store=store)
    retry = Retry(attempts=5, delay=0, budget=budget)
    calls = 0

    def failing() -> None:
        nonlocal calls
        calls += 1
        raise ConnectionError("down")

    for _ in range(3):
        with pytest.raises(ConnectionError):
            retry.call(failing)
    assert calls == 3 + 2  # the budget held 2 retries (0.2/s x 10 s), then none


@pytest.mark.parametrize(("mode", "expected"), [("allow", True), ("deny", False), ("local", True)])
def test_failure_modes(own_redis: OwnRedis, mode: str, expected: bool) -> None:
    store = RedisStore(own_redis.url, prefix="rbf", command_timeout=0.2, retry_interval=0.2)
    budget = RetryBudget.shared(
        name="m",
        ratio=0.5,
        min_per_second=0.0,
        store=store,
        on_store_failure=mode,  # type: ignore[arg-type]
    )
    budget.deposit()
    budget.deposit()
    own_redis.stop()
    assert budget.try_withdraw() is expected  # local: 50% of its own 2 calls = 1 retry
    if mode == "local":
        assert budget.try_withdraw() is False
    assert budget.store_mode == mode
    store.close()
