"""``resilience:``: default policy settings and named per-dependency pipelines.

Only the shape of the settings is checked here (types, names, durations). A policy's limits
(``attempts >= 1``, a rate above zero...) are checked once, by the policy's options dataclass,
when the explicit validation step builds every pipeline (:func:`buttress.config.validate`);
its error is reported at the file, line and field of the setting.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from buttress.config._base import Section
from buttress.config._state import StoreFailureMode
from buttress.config._types import Duration

__all__ = [
    "BulkheadConfig",
    "BulkheadSpec",
    "CircuitBreakerConfig",
    "CircuitBreakerSpec",
    "PolicyConfig",
    "PolicySpec",
    "RateLimitConfig",
    "RateLimitSpec",
    "ResilienceConfig",
    "RetryConfig",
    "RetrySpec",
    "TimeoutConfig",
    "TimeoutSpec",
]

_POLICY_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


class RetryConfig(Section):
    """Retry settings; unset fields inherit from ``resilience.defaults.retry``."""

    enabled: bool | None = Field(default=None, description="false turns retry off for this policy.")
    attempts: int | None = Field(default=None, description="Total attempts, first included (3).")
    backoff: Literal["constant", "linear", "exponential"] | None = Field(
        default=None, description="Shape of the waits (exponential)."
    )
    delay: Duration | None = Field(default=None, description="First wait (100ms).")
    max_delay: Duration | None = Field(default=None, description="Longest wait (30s).")
    jitter: Literal["none", "full", "equal", "decorrelated"] | None = Field(
        default=None, description="How waits are spread (full)."
    )
    deadline: Duration | None = Field(default=None, description="No attempt starts after this.")
    budget_ratio: float | None = Field(
        default=None, description="Retry budget: share of recent calls that may be retried."
    )
    budget_min_per_second: float | None = Field(
        default=None, description="Retry budget floor, retries per second (10)."
    )


class CircuitBreakerConfig(Section):
    """Circuit-breaker settings; unset fields inherit from the defaults."""

    enabled: bool | None = None
    failure_rate: float | None = Field(default=None, description="Percent (50).")
    slow_call_rate: float | None = Field(default=None, description="Percent (100).")
    slow_call_duration: Duration | None = Field(default=None, description="Slow above this.")
    window: Literal["count", "time"] | None = Field(default=None, description="count or time.")
    window_size: int | None = Field(default=None, description="Calls or seconds (100).")
    minimum_calls: int | None = Field(default=None, description="Before judging (10).")
    wait: Duration | None = Field(default=None, description="Open for this long (60s).")
    wait_multiplier: float | None = Field(default=None, description="Growth per re-open (1).")
    max_wait: Duration | None = Field(default=None, description="Cap of the growing wait.")
    half_open_calls: int | None = Field(default=None, description="Probe calls (10).")


class TimeoutConfig(Section):
    """Timeout settings."""

    enabled: bool | None = None
    seconds: Duration | None = Field(default=None, description="Time allowed per call.")
    hard: bool | None = Field(default=None, description="Sync calls in a worker thread.")


class BulkheadConfig(Section):
    """Bulkhead settings."""

    enabled: bool | None = None
    max_concurrent: int | None = Field(default=None, description="Calls at once (10).")
    max_queue: int | None = Field(default=None, description="Calls allowed to wait (0).")
    max_wait: Duration | None = Field(default=None, description="Longest wait in the queue.")
    on_full: Literal["reject_newest", "drop_oldest"] | None = None
    lease: Duration | None = Field(
        default=None, description="Shared state: a dead holder's permit returns after (30s)."
    )


class RateLimitConfig(Section):
    """Rate-limit settings (the global key of the policy)."""

    enabled: bool | None = None
    algorithm: (
        Literal[
            "token_bucket",
            "gcra",
            "fixed_window",
            "sliding_window",
            "sliding_window_counter",
            "leaky_bucket",
        ]
        | None
    ) = Field(default=None, description="Algorithm (token_bucket).")
    rate: float | None = Field(default=None, description="Permits per `per` (or per window).")
    per: Duration | None = Field(default=None, description="Period of `rate` / the window (1s).")
    burst: float | None = Field(default=None, description="Bucket size / queue capacity.")


class PolicyConfig(Section):
    """One named pipeline: which policies, with which settings."""

    retry: RetryConfig | None = None
    circuit_breaker: CircuitBreakerConfig | None = None
    timeout: TimeoutConfig | None = None
    bulkhead: BulkheadConfig | None = None
    rate_limit: RateLimitConfig | None = None
    shared: bool | None = Field(
        default=None,
        description="Keep this policy's state in the `state` store (default: yes when the "
        "backend is redis); false keeps it in each process.",
    )
    on_store_failure: StoreFailureMode | None = Field(
        default=None, description="Overrides `state.on_store_failure` for this policy."
    )


class ResilienceConfig(Section):
    """Resilience policies: defaults, plus named per-dependency policies that override them.

    A named policy is a pipeline of every policy kind set in ``defaults`` or in its own entry
    (``enabled: false`` drops one), in the order fallback, retry, circuit breaker, timeout,
    bulkhead, rate limiter. Reach it with ``buttress.resilience.policy("name")``. The limits
    of each setting (``attempts`` at least 1, a ``rate`` above 0...) are the policy's own,
    checked when the file is loaded and reported at the setting's line.
    """

    defaults: PolicyConfig = Field(
        default_factory=PolicyConfig, description="Settings every named policy starts from."
    )
    policies: dict[str, PolicyConfig] = Field(
        default_factory=dict,
        description="Named policies, e.g. `database:`; each has the shape of `defaults`.",
    )
    events_to_bus: bool = Field(
        default=False,
        description=(
            "Forward the policies' rarer events (breaker state changes, rejections, retry "
            "give-ups, fallbacks, store mode changes) to the domain event bus "
            "(`buttress.events.subscribe`), in the process whose registry this section "
            "configures. Costs nothing while no one subscribes to them on the bus."
        ),
    )

    @field_validator("policies")
    @classmethod
    def _names(cls, policies: dict[str, PolicyConfig]) -> dict[str, PolicyConfig]:
        for name in policies:
            if not _POLICY_NAME.fullmatch(name):
                raise ValueError(f"policy name {name!r}: use letters, digits, '_', '-' and '.'")
        return policies


# the names before the naming convention (docs/architecture.md, "Configuration models")
RetrySpec = RetryConfig
CircuitBreakerSpec = CircuitBreakerConfig
TimeoutSpec = TimeoutConfig
BulkheadSpec = BulkheadConfig
RateLimitSpec = RateLimitConfig
PolicySpec = PolicyConfig
