"""GCRA (generic cell rate algorithm): a token bucket kept as one timestamp.

``rate`` permits per ``per`` seconds means one permit every ``T = per / rate`` seconds; ``burst``
permits may be taken at once. The state is the theoretical arrival time (TAT) of the next
permit: a request of ``cost`` is allowed at ``now`` when ``max(TAT, now) + cost*T - burst*T
<= now``. Exact: in any interval of length ``d``, at most ``burst + d / T`` permits pass.
"""

from __future__ import annotations

from buttress.resilience.rate_limit._algorithm import check_rate

__all__ = ["GCRA"]


class GCRA:
    """State: ``[tat]``."""

    shaping = False
    lua = "gcra"
    __slots__ = ("burst", "interval", "limit", "period", "tolerance")

    def __init__(self, rate: float, per: float = 1.0, burst: float | None = None) -> None:
        check_rate("gcra", rate=rate, per=per, burst=rate if burst is None else burst)
        self.burst = float(rate if burst is None else burst)
        self.limit = self.burst
        self.period = float(per)
        self.interval = per / rate
        self.tolerance = self.burst * self.interval

    def lua_args(self) -> tuple[float, ...]:
        """The shared-state script's arguments: microseconds per permit, tolerance, burst."""
        return (self.interval * 1e6, self.tolerance * 1e6, self.burst)

    def new(self, now: float) -> list[float]:
        return [now]

    def take(self, state: list[float], now: float, cost: float) -> float:
        tat = state[0] if state[0] > now else now
        new_tat = tat + cost * self.interval
        allow_at = new_tat - self.tolerance
        if allow_at <= now:
            state[0] = new_tat
            return 0.0
        if cost > self.burst:
            return float("inf")
        return allow_at - now

    def remaining(self, state: list[float], now: float) -> float:
        tat = state[0] if state[0] > now else now
        return max(0.0, (self.tolerance - (tat - now)) / self.interval)

    def reset_after(self, state: list[float], now: float) -> float:
        return max(0.0, state[0] - now)
