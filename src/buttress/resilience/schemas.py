"""The effective settings of each policy kind a configured pipeline holds, as
``Policy.settings()`` gives them and ``/api/v1/resilience`` answers them (pydantic only; the
API imports this module, ``import buttress.resilience`` does not).

Each model forbids keys it does not declare, so that a setting added to a policy and not here
fails ``tests/resilience/test_api.py`` instead of vanishing from the API.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from buttress.resilience.backoff import JitterKind

__all__ = [
    "Backoff",
    "BreakerSettings",
    "BudgetSettings",
    "BulkheadSettings",
    "LimiterAlgorithm",
    "LimiterSettings",
    "RetrySettings",
    "TimeoutSettings",
]


class _Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ConstantBackoff(_Settings):
    kind: Literal["ConstantBackoff"]
    delay: float = Field(description="Seconds between attempts.")


class LinearBackoff(_Settings):
    kind: Literal["LinearBackoff"]
    delay: float = Field(description="First wait, seconds.")
    step: float = Field(description="Added to each next wait, seconds.")
    max_delay: float


class ExponentialBackoff(_Settings):
    kind: Literal["ExponentialBackoff"]
    delay: float = Field(description="First wait, seconds.")
    multiplier: float
    max_delay: float


Backoff = Annotated[
    ConstantBackoff | LinearBackoff | ExponentialBackoff, Field(discriminator="kind")
]
"""A retry's waits before jitter."""


class BudgetSettings(_Settings):
    """A retry budget: retries allowed as a share of recent calls, with a floor."""

    name: str
    kind: str = Field(description="Its options' type.")
    ratio: float = Field(description="Share of recent calls that may be retried.")
    min_per_second: float = Field(description="Retries per second always allowed.")
    ttl: int = Field(description="Seconds of calls counted.")


Rule = str | list[str] | None
"""A rule as given: an exception type's name, several, or a predicate's name."""


class RetrySettings(_Settings):
    attempts: int = Field(description="Total attempts, the first included.")
    deadline: float | None = Field(description="No attempt starts after this many seconds.")
    backoff: Backoff
    jitter: JitterKind
    respect_retry_after: bool
    max_retry_after: float = Field(description="Longest Retry-After hint honoured, seconds.")
    retry_on: Rule = Field(description="What is retried.")
    retry_if_result: Rule = Field(description="Results that are retried too.")
    budget: BudgetSettings | None


class BreakerSettings(_Settings):
    failure_rate: float = Field(description="Percent of failed calls that opens it.")
    slow_call_rate: float = Field(description="Percent of slow calls that opens it.")
    slow_call_duration: float | None = Field(description="Seconds above which a call is slow.")
    window: Literal["count", "time"]
    window_size: int = Field(description="Calls, or seconds.")
    minimum_calls: int = Field(description="Calls in the window before the rates are judged.")
    wait: float = Field(description="Seconds open before probes are let through.")
    wait_multiplier: float = Field(description="Growth of the wait per consecutive re-open.")
    max_wait: float | None = Field(description="Cap of the growing wait, seconds.")
    half_open_calls: int = Field(description="Probe calls; their failure rate decides.")


class TimeoutSettings(_Settings):
    seconds: float
    hard: bool = Field(description="Sync calls run in a worker thread, abandoned at the limit.")


class BulkheadSettings(_Settings):
    max_concurrent: int
    max_queue: int
    max_wait: float | None = Field(description="Seconds a queued call waits at most.")
    on_full: Literal["reject_newest", "drop_oldest"]
    lease: float | None = Field(
        default=None,
        exclude_if=lambda v: v is None,
        description="Shared: seconds a permit outlives a holder that stopped renewing it "
        "(absent in memory).",
    )


class _Bucket(_Settings):
    burst: float
    interval: float = Field(description="Seconds per permit.")
    limit: float
    period: float = Field(description="Seconds.")
    rate: float = Field(description="Permits per period.")
    tolerance: float


class GCRA(_Bucket):
    kind: Literal["GCRA"]


class TokenBucket(_Bucket):
    kind: Literal["TokenBucket"]


class LeakyBucket(_Settings):
    kind: Literal["LeakyBucket"]
    capacity: float
    interval: float = Field(description="Seconds per permit.")
    limit: float
    period: float = Field(description="Seconds.")
    rate: float = Field(description="Permits per period.")


class _Window(_Settings):
    limit: float = Field(description="Permits per window.")
    period: float = Field(description="The window, seconds.")


class FixedWindow(_Window):
    kind: Literal["FixedWindow"]


class SlidingWindowLog(_Window):
    kind: Literal["SlidingWindowLog"]


class SlidingWindowCounter(_Window):
    kind: Literal["SlidingWindowCounter"]


LimiterAlgorithm = Annotated[
    GCRA | TokenBucket | LeakyBucket | FixedWindow | SlidingWindowLog | SlidingWindowCounter,
    Field(discriminator="kind"),
]
"""A rate limiter's algorithm and its numbers."""


class LimiterSettings(_Settings):
    algorithm: LimiterAlgorithm
    tiers: dict[str, LimiterAlgorithm] = Field(description="Per tier, its own algorithm.")
    allow: int = Field(description="How many keys are never limited.")
    deny: int = Field(description="How many keys are always refused.")
    max_keys: int = Field(description="Keys tracked at most.")
