"""The contract every rate-limit algorithm meets (no I/O, never sleeps, no locking).

An algorithm keeps one small mutable state per key and answers, for a request of ``cost``
permits at time ``now``: take them (return 0.0) or not (return the seconds after which they
would be available). The limiter does the locking, the waiting and the per-key bookkeeping.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from buttress.state.scripts import Script

__all__ = ["Algorithm", "DecidesByParts", "check_rate"]


class Algorithm(Protocol):
    #: permits per period, as advertised in RateLimit-Limit
    limit: float
    #: the period, seconds
    period: float
    #: shaping algorithms delay requests (reserve) rather than reject them
    shaping: bool
    #: the script that runs this algorithm on shared state (its ``.lua`` file sits next
    #: to the algorithm's module)
    lua: Script

    def new(self, now: float) -> Any:
        """A fresh state: nothing used yet."""

    def take(self, state: Any, now: float, cost: float) -> float:
        """Take ``cost`` permits: 0.0 if taken, else seconds until they would be (``inf``:
        never, the cost exceeds the capacity). Must not change the state when refusing."""

    def remaining(self, state: Any, now: float) -> float:
        """Permits available now."""

    def reset_after(self, state: Any, now: float) -> float:
        """Seconds until the state is fresh again (all permits available)."""

    def decide(self, state: Any, now: float, cost: float) -> tuple[float, float, float]:
        """:meth:`take`, then what a decision reports: ``(retry, remaining, reset_after)``
        after it, in one call (the per-key hot path; :class:`DecidesByParts` composes it)."""

    def lua_args(self) -> tuple[float, ...]:
        """The numbers the shared-state script needs (times in microseconds)."""


def check_rate(kind: str, **values: float) -> None:
    """Validate an algorithm's numbers with one clear message naming the bad one."""
    for field, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
            raise ValueError(f"{kind} {field}={value!r}: expected a number > 0")


class DecidesByParts:
    """``decide()`` as :meth:`Algorithm.take`, ``remaining`` and ``reset_after`` called in
    turn: for algorithms with no faster way to say all three."""

    __slots__ = ()

    def decide(self: Algorithm, state: Any, now: float, cost: float) -> tuple[float, float, float]:
        retry = self.take(state, now, cost)
        return retry, self.remaining(state, now), self.reset_after(state, now)
