"""Token bucket: ``rate`` permits per ``per`` seconds refill a bucket of ``burst`` permits."""

from __future__ import annotations

from buttress.resilience.rate_limit._algorithm import check_rate

__all__ = ["TokenBucket"]


class TokenBucket:
    """State: ``[tokens, last_refill]``."""

    shaping = False
    lua = "token_bucket"
    __slots__ = ("burst", "limit", "period", "tps")

    def __init__(self, rate: float, per: float = 1.0, burst: float | None = None) -> None:
        check_rate("token bucket", rate=rate, per=per, burst=rate if burst is None else burst)
        self.limit = float(rate if burst is None else burst)
        self.burst = self.limit
        self.period = float(per)
        self.tps = rate / per

    def lua_args(self) -> tuple[float, ...]:
        """The shared-state script's arguments: burst, microseconds per token."""
        return (self.burst, 1e6 / self.tps)

    def new(self, now: float) -> list[float]:
        return [self.burst, now]

    def take(self, state: list[float], now: float, cost: float) -> float:
        tokens = state[0] + (now - state[1]) * self.tps
        if tokens > self.burst:
            tokens = self.burst
        if tokens >= cost:
            state[0] = tokens - cost
            state[1] = now
            return 0.0
        if cost > self.burst:
            return float("inf")
        return (cost - tokens) / self.tps

    def carry(self, state: list[float], old: TokenBucket) -> None:
        """Move a key's state from ``old``'s capacity to this one, keeping what was used (a
        full bucket stays full, three used of ten become three used of four)."""
        state[0] = min(self.burst, max(0.0, state[0] + self.burst - old.burst))

    def remaining(self, state: list[float], now: float) -> float:
        return min(self.burst, state[0] + (now - state[1]) * self.tps)

    def reset_after(self, state: list[float], now: float) -> float:
        return max(0.0, (self.burst - self.remaining(state, now)) / self.tps)
