"""Resilience policies for calls to dependencies.

Circuit breaker, retry (backoff, jitter, Retry-After, budget), timeout, rate limiter (token
bucket, leaky bucket, fixed and sliding windows, GCRA; per key, tiers, allow/deny lists),
bulkhead (priorities, bounded queue), fallback chains, and pipelines composing them. Each works
for plain and ``async`` calls, as a decorator, a ``with`` block (where a block makes sense) and
``policy.call(fn, *args)`` / ``await policy.acall(fn, *args)``.

Importing this package loads nothing beyond the standard library and buttress's own errors.
"""

from typing import TYPE_CHECKING

from buttress.resilience.backoff import ConstantBackoff, ExponentialBackoff, LinearBackoff
from buttress.resilience.budget import RetryBudget
from buttress.resilience.bulkhead import Bulkhead
from buttress.resilience.circuit_breaker import CircuitBreaker, CircuitBreakerOptions
from buttress.resilience.errors import (
    BulkheadFullError,
    CircuitOpenError,
    PolicyTimeoutError,
    RateLimitedError,
    RejectedError,
    ResilienceError,
)
from buttress.resilience.events import subscribe, unsubscribe
from buttress.resilience.fallback import Fallback
from buttress.resilience.pipeline import DEFAULT_ORDER, Pipeline
from buttress.resilience.rate_limit import Decision, RateLimiter
from buttress.resilience.retry import Retry, RetryOptions
from buttress.resilience.timeout import Timeout, deadline, remaining

if TYPE_CHECKING:
    from buttress.resilience._shared_breaker import SharedCircuitBreaker
    from buttress.resilience._shared_budget import SharedRetryBudget
    from buttress.resilience._shared_bulkhead import SharedBulkhead


_SHARED = {
    "SharedBulkhead": "buttress.resilience._shared_bulkhead",
    "SharedCircuitBreaker": "buttress.resilience._shared_breaker",
    "SharedRetryBudget": "buttress.resilience._shared_budget",
}


def __getattr__(name: str) -> object:
    # the shared-state types (what CircuitBreaker.shared() & co. return) load on first use:
    # importing buttress.resilience stays free of the store's modules
    module = _SHARED.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


def policy(name: str) -> Pipeline:
    """The pipeline configured as ``resilience.policies.<name>`` in buttress.yaml, shared by
    every caller in the process (see :mod:`buttress.resilience.registry`)."""
    from buttress.resilience.registry import policy as _policy

    return _policy(name)


__all__ = [
    "DEFAULT_ORDER",
    "Bulkhead",
    "BulkheadFullError",
    "CircuitBreaker",
    "CircuitBreakerOptions",
    "CircuitOpenError",
    "ConstantBackoff",
    "Decision",
    "ExponentialBackoff",
    "Fallback",
    "LinearBackoff",
    "Pipeline",
    "PolicyTimeoutError",
    "RateLimitedError",
    "RateLimiter",
    "RejectedError",
    "ResilienceError",
    "Retry",
    "RetryBudget",
    "RetryOptions",
    "SharedBulkhead",
    "SharedCircuitBreaker",
    "SharedRetryBudget",
    "Timeout",
    "deadline",
    "policy",
    "remaining",
    "subscribe",
    "unsubscribe",
]
