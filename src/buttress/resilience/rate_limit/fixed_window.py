"""Fixed window: at most ``limit`` permits in each window ``[k*window, (k+1)*window)``."""

from __future__ import annotations

import math

from buttress.resilience.rate_limit._algorithm import DecidesByParts, check_rate
from buttress.state import scripts

__all__ = ["FixedWindow"]


class FixedWindow(DecidesByParts):
    """State: ``[window_index, used]``."""

    shaping = False
    lua = scripts.load("buttress.resilience.rate_limit", "fixed_window")
    __slots__ = ("limit", "period")

    def __init__(self, limit: float, window: float = 1.0) -> None:
        check_rate("fixed window", limit=limit, window=window)
        self.limit = float(limit)
        self.period = float(window)

    def lua_args(self) -> tuple[float, ...]:
        """The shared-state script's arguments: limit, window in microseconds."""
        return (self.limit, round(self.period * 1e6))

    def new(self, now: float) -> list[float]:
        return [math.floor(now / self.period), 0.0]

    def take(self, state: list[float], now: float, cost: float) -> float:
        index = math.floor(now / self.period)
        if index != state[0]:
            state[0] = index
            state[1] = 0.0
        if state[1] + cost <= self.limit:
            state[1] += cost
            return 0.0
        if cost > self.limit:
            return float("inf")
        return (index + 1) * self.period - now

    def remaining(self, state: list[float], now: float) -> float:
        if math.floor(now / self.period) != state[0]:
            return self.limit
        return self.limit - state[1]

    def reset_after(self, state: list[float], now: float) -> float:
        if math.floor(now / self.period) != state[0]:
            return 0.0
        return (state[0] + 1) * self.period - now
