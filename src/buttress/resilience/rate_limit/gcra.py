"""GCRA (generic cell rate algorithm): a token bucket kept as the time it owes.

``rate`` permits per ``per`` seconds means one permit every ``T = per / rate`` seconds; ``burst``
permits may be taken at once. GCRA tracks the theoretical arrival time (TAT) of the next
permit: a request of ``cost`` is allowed at ``now`` when ``max(TAT, now) + cost*T - burst*T
<= now``. Exact: in any interval of length ``d``, at most ``burst + d / T`` permits pass.

In memory the state is ``[owed, last]``: the permits owed at the last grant (``(TAT - last) /
T``) and its time. A TAT kept as one float lost precision with the clock's magnitude (after a
month of uptime a burst of 1,000 at 1,000/s granted 999, and at 100,000/s a year's uptime
granted 100,005 of 100,000); permits owed are whole numbers while a burst is taken at one
instant, and small whatever the clock reads. Redis keeps the same, in microseconds, with the
microseconds per permit they were counted in (``gcra.lua``, ``_owed.lua``).

The async decorator of an in-process limiter inlines :meth:`GCRA.take`
(``RateLimiter._gcra_async``), and ``RateLimiter.try_acquire`` the grant of :meth:`GCRA.decide`;
a change here is a change there (tests/resilience/test_rate_limit.py compares them).
"""

from __future__ import annotations

from buttress.resilience.rate_limit._algorithm import check_rate
from buttress.state import scripts

__all__ = ["GCRA"]


class GCRA:
    """State: ``[owed, last]``: the permits owed at time ``last`` (``TAT = last + owed * T``)."""

    kind = "gcra"
    shaping = False
    lua = scripts.load("buttress.resilience.rate_limit", "gcra", include=["owed"])
    __slots__ = ("burst", "interval", "limit", "period", "rate", "tolerance")

    def __init__(self, rate: float, per: float = 1.0, burst: float | None = None) -> None:
        check_rate(self.kind, rate=rate, per=per, burst=rate if burst is None else burst)
        self.burst = float(rate if burst is None else burst)
        self.limit = self.burst
        self.period = float(per)
        self.interval = per / rate
        self.rate = rate / per  # permits per second
        self.tolerance = self.burst * self.interval

    def lua_args(self) -> tuple[float, ...]:
        """The shared-state script's arguments: microseconds per permit, tolerance, burst."""
        return (self.interval * 1e6, self.tolerance * 1e6, self.burst)

    def new(self, now: float) -> list[float]:
        return [0.0, now]

    def take(self, state: list[float], now: float, cost: float) -> float:
        owed = state[0] - (now - state[1]) * self.rate
        if owed < 0.0:
            owed = 0.0
        owed += cost
        if owed <= self.burst:
            state[0] = owed
            state[1] = now
            return 0.0
        if cost > self.burst:
            return float("inf")
        return (owed - self.burst) * self.interval

    def decide(self, state: list[float], now: float, cost: float) -> tuple[float, float, float]:
        """:meth:`take` with the remaining permits and the reset time after it, in one pass."""
        owed = state[0] - (now - state[1]) * self.rate
        if owed < 0.0:
            owed = 0.0
        after = owed + cost
        burst = self.burst
        if after <= burst:
            state[0] = after
            state[1] = now
            left = burst - after  # _permits() inlined: this is the per-key hot path
            if not left.is_integer():
                left = round(left, 9) if left > 0.0 else 0.0
            return 0.0, left, after * self.interval
        retry = float("inf") if cost > burst else (after - burst) * self.interval
        return retry, _permits(burst - owed), owed * self.interval

    def owed(self, state: list[float], now: float) -> float:
        """Permits owed now: the bucket lacks this many (``(max(TAT, now) - now) / T``)."""
        owed = state[0] - (now - state[1]) * self.rate
        return owed if owed > 0.0 else 0.0

    def carry(self, state: list[float], old: GCRA, now: float) -> None:
        """Move a key's state to this rate keeping its arrival time: the time owed stays, so
        a faster rate owes more permits of it (what makes GCRA's answer follow the new rate)."""
        state[0] = old.owed(state, now) * old.interval * self.rate
        state[1] = now

    def remaining(self, state: list[float], now: float) -> float:
        return _permits(self.burst - self.owed(state, now))

    def reset_after(self, state: list[float], now: float) -> float:
        return self.owed(state, now) * self.interval


def _permits(left: float) -> float:
    """Permits left, >= 0, rounded to 9 decimals (96, not 95.99999999999999); a whole number,
    the usual case, skips ``round(x, 9)``, which costs ~0.3 us in CPython."""
    if left <= 0.0:
        return 0.0
    return left if left.is_integer() else round(left, 9)
