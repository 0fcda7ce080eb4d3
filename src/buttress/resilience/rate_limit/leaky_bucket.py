"""Leaky bucket as a shaper: requests leave at a steady ``rate`` per ``per`` seconds; a request
that arrives early waits for its turn (up to ``capacity`` queued permits) instead of being
rejected. ``try_acquire`` only says yes when no wait is needed.
"""

from __future__ import annotations

from buttress.resilience.rate_limit._algorithm import check_rate

__all__ = ["LeakyBucket"]


class LeakyBucket:
    """State: ``[next_free]`` (when the next permit leaves the bucket)."""

    shaping = True
    lua = "leaky_bucket"
    __slots__ = ("capacity", "interval", "limit", "period")

    def __init__(self, rate: float, per: float = 1.0, capacity: float | None = None) -> None:
        check_rate(
            "leaky bucket", rate=rate, per=per, capacity=rate if capacity is None else capacity
        )
        self.limit = float(rate)
        self.period = float(per)
        self.interval = per / rate
        self.capacity = float(rate if capacity is None else capacity)

    def lua_args(self) -> tuple[float, ...]:
        """The shared-state script's arguments: microseconds per permit, capacity."""
        return (self.interval * 1e6, self.capacity)

    def new(self, now: float) -> list[float]:
        return [now]

    def take(self, state: list[float], now: float, cost: float) -> float:
        start = state[0] if state[0] > now else now
        if start <= now:
            state[0] = now + cost * self.interval
            return 0.0
        if cost > self.capacity:
            return float("inf")
        return start - now

    def reserve(self, state: list[float], now: float, cost: float) -> float | None:
        """Reserve ``cost`` permits: the seconds to wait before using them, or ``None`` when
        the queue (``capacity`` permits) is full."""
        start = state[0] if state[0] > now else now
        if (start - now) / self.interval + cost > self.capacity + 1e-9:
            return None
        state[0] = start + cost * self.interval
        return start - now

    def remaining(self, state: list[float], now: float) -> float:
        queued = max(0.0, state[0] - now) / self.interval
        return max(0.0, self.capacity - queued)

    def reset_after(self, state: list[float], now: float) -> float:
        return max(0.0, state[0] - now)
