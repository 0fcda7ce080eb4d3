"""Sliding windows: at most ``limit`` permits in any ``window`` seconds.

* :class:`SlidingWindowLog` is exact: it keeps the time of every permit still in the window
  (memory grows with ``limit``).
* :class:`SlidingWindowCounter` approximates it with two counters (the current and the
  previous fixed window, the previous one weighted by how much of it still overlaps), as
  Cloudflare does: constant memory, approximate at window edges (it assumes the previous
  window's permits were spread evenly): any ``window`` seconds can hold more than ``limit``,
  but fewer than ``2 * limit`` (all of one window's permits at its end, then the next's).
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any

from buttress.resilience.rate_limit._algorithm import DecidesByParts, check_rate
from buttress.state import scripts

__all__ = ["SlidingWindowCounter", "SlidingWindowLog"]


class SlidingWindowLog(DecidesByParts):
    """State: ``[used, deque[(time, cost)]]``."""

    shaping = False
    lua = scripts.load("buttress.resilience.rate_limit", "sliding_log", keys=("", ":m"))
    __slots__ = ("limit", "period")

    def __init__(self, limit: float, window: float = 1.0) -> None:
        check_rate("sliding window log", limit=limit, window=window)
        self.limit = float(limit)
        self.period = float(window)

    def lua_args(self) -> tuple[float, ...]:
        """The shared-state script's arguments: limit, window in microseconds."""
        return (self.limit, round(self.period * 1e6))

    def new(self, now: float) -> list[Any]:
        return [0.0, deque()]

    def _expire(self, state: list[Any], now: float) -> None:
        log: deque[tuple[float, float]] = state[1]
        period = self.period
        # `stamp + period <= now`, not `stamp <= now - period`: the two round differently, and
        # only this form agrees exactly with "the window [stamp, stamp + period)"
        while log and log[0][0] + period <= now:
            state[0] -= log.popleft()[1]

    def take(self, state: list[Any], now: float, cost: float) -> float:
        self._expire(state, now)
        if state[0] + cost <= self.limit:
            state[0] += cost
            state[1].append((now, cost))
            return 0.0
        if cost > self.limit:
            return float("inf")
        need = state[0] + cost - self.limit
        freed = 0.0
        for stamp, used in state[1]:
            freed += used
            if freed >= need:
                return float(stamp + self.period - now)
        return self.period  # not reached: the log holds more than ``need``

    def remaining(self, state: list[Any], now: float) -> float:
        self._expire(state, now)
        return float(self.limit - state[0])

    def reset_after(self, state: list[Any], now: float) -> float:
        self._expire(state, now)
        return float(state[1][-1][0] + self.period - now) if state[1] else 0.0


class SlidingWindowCounter(DecidesByParts):
    """State: ``[window_index, current, previous]``."""

    shaping = False
    lua = scripts.load("buttress.resilience.rate_limit", "sliding_counter")
    __slots__ = ("limit", "period")

    def __init__(self, limit: float, window: float = 1.0) -> None:
        check_rate("sliding window counter", limit=limit, window=window)
        self.limit = float(limit)
        self.period = float(window)

    def lua_args(self) -> tuple[float, ...]:
        """The shared-state script's arguments: limit, window in microseconds."""
        return (self.limit, round(self.period * 1e6))

    def new(self, now: float) -> list[float]:
        return [math.floor(now / self.period), 0.0, 0.0]

    def _roll(self, state: list[float], now: float) -> float:
        index = math.floor(now / self.period)
        if index != state[0]:
            state[2] = state[1] if index == state[0] + 1 else 0.0
            state[1] = 0.0
            state[0] = index
        return index

    def take(self, state: list[float], now: float, cost: float) -> float:
        index = self._roll(state, now)
        into = (now - index * self.period) / self.period
        used = state[2] * (1.0 - into) + state[1]
        if used + cost <= self.limit:
            state[1] += cost
            return 0.0
        if cost > self.limit:
            return float("inf")
        current, previous, limit, w = state[1], state[2], self.limit, self.period
        if current + cost <= limit and previous > 0:  # enough of the previous window expires
            return index * w + w * (1.0 - (limit - current - cost) / previous) - now
        # wait for the next window, where this one's count becomes the weighted one
        return (index + 1) * w + w * max(0.0, 1.0 - (limit - cost) / current) - now

    def remaining(self, state: list[float], now: float) -> float:
        index = self._roll(state, now)
        into = (now - index * self.period) / self.period
        return max(0.0, self.limit - state[2] * (1.0 - into) - state[1])

    def reset_after(self, state: list[float], now: float) -> float:
        index = self._roll(state, now)
        if state[1] == 0 and state[2] == 0:
            return 0.0
        return (index + (2 if state[1] else 1)) * self.period - now
