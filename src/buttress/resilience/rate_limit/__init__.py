"""Rate limiting: token bucket, leaky bucket, fixed window, sliding window (log and counter),
GCRA, per key with tiers and allow/deny lists."""

from buttress.resilience.rate_limit._algorithm import Algorithm, DecidesByParts
from buttress.resilience.rate_limit._limiter import Decision, RateLimiter
from buttress.resilience.rate_limit.fixed_window import FixedWindow
from buttress.resilience.rate_limit.gcra import GCRA
from buttress.resilience.rate_limit.leaky_bucket import LeakyBucket
from buttress.resilience.rate_limit.sliding_window import SlidingWindowCounter, SlidingWindowLog
from buttress.resilience.rate_limit.token_bucket import TokenBucket

__all__ = [
    "GCRA",
    "Algorithm",
    "DecidesByParts",
    "Decision",
    "FixedWindow",
    "LeakyBucket",
    "RateLimiter",
    "SlidingWindowCounter",
    "SlidingWindowLog",
    "TokenBucket",
]
