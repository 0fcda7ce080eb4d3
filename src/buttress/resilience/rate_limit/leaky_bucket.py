"""Leaky bucket as a shaper: requests leave at a steady ``rate`` per ``per`` seconds; a request
that arrives early waits for its turn (up to ``capacity`` queued permits) instead of being
rejected. ``try_acquire`` only says yes when no wait is needed.

The state is the permits queued at the last decision and its time, as the token bucket keeps
what it owes: small numbers whatever the clock reads (a queue end kept as one float timestamp
refused the 100th of 100 permits queued at once after a year of uptime).
"""

from __future__ import annotations

from buttress.resilience.rate_limit._algorithm import DecidesByParts, check_rate
from buttress.state import scripts

__all__ = ["LeakyBucket"]


class LeakyBucket(DecidesByParts):
    """State: ``[queued, last]`` (the permits waiting to leave at time ``last``)."""

    shaping = True
    lua = scripts.load("buttress.resilience.rate_limit", "leaky_bucket", include=["owed"])
    __slots__ = ("capacity", "interval", "limit", "period", "rate")

    def __init__(self, rate: float, per: float = 1.0, capacity: float | None = None) -> None:
        check_rate(
            "leaky bucket", rate=rate, per=per, capacity=rate if capacity is None else capacity
        )
        self.limit = float(rate)
        self.period = float(per)
        self.interval = per / rate
        self.rate = rate / per  # permits per second
        self.capacity = float(rate if capacity is None else capacity)

    def lua_args(self) -> tuple[float, ...]:
        """The shared-state script's arguments: microseconds per permit, capacity."""
        return (self.interval * 1e6, self.capacity)

    def new(self, now: float) -> list[float]:
        return [0.0, now]

    def queued(self, state: list[float], now: float) -> float:
        """Permits still waiting to leave at ``now``."""
        queued = state[0] - (now - state[1]) * self.rate
        return queued if queued > 0.0 else 0.0

    def take(self, state: list[float], now: float, cost: float) -> float:
        queued = self.queued(state, now)
        if queued <= 0.0:
            state[0] = cost
            state[1] = now
            return 0.0
        if cost > self.capacity:
            return float("inf")
        return queued * self.interval

    def reserve(self, state: list[float], now: float, cost: float) -> float | None:
        """Reserve ``cost`` permits: the seconds to wait before using them, or ``None`` when
        the queue (``capacity`` permits) is full."""
        queued = self.queued(state, now)
        if queued + cost > self.capacity + 1e-9:
            return None
        state[0] = queued + cost
        state[1] = now
        return queued * self.interval

    def carry(self, state: list[float], old: LeakyBucket, now: float) -> None:
        """Move a key's queue to this rate keeping the time it takes to drain: the calls
        queued were told when to go, and a new one goes after them."""
        state[0] = old.queued(state, now) * old.interval * self.rate
        state[1] = now

    def remaining(self, state: list[float], now: float) -> float:
        return max(0.0, self.capacity - self.queued(state, now))

    def reset_after(self, state: list[float], now: float) -> float:
        return self.queued(state, now) * self.interval
