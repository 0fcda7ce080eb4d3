"""Token bucket: ``rate`` permits per ``per`` seconds refill a bucket of ``burst`` permits.

In memory the bucket is kept the way GCRA keeps it: the tokens it lacks (``tokens = burst -
owed``) and the time of the last grant; the decisions are the token bucket's. The two differ in
what a rate change keeps (:meth:`TokenBucket.carry`) and in their shared-state scripts, which
keep Redis's state in each algorithm's own terms.
"""

from __future__ import annotations

from buttress.resilience.rate_limit.gcra import GCRA
from buttress.state import scripts

__all__ = ["TokenBucket"]


class TokenBucket(GCRA):
    """State: ``[owed, last]`` as :class:`GCRA`'s: the bucket lacked ``owed`` tokens at ``last``."""

    kind = "token bucket"
    lua = scripts.load("buttress.resilience.rate_limit", "token_bucket", include=["owed"])
    __slots__ = ()

    def lua_args(self) -> tuple[float, ...]:
        """The shared-state script's arguments: burst, microseconds per token."""
        return (self.burst, self.interval * 1e6)

    def carry(self, state: list[float], old: GCRA, now: float) -> None:
        """Move a key's state from ``old``'s capacity and rate to this one, keeping how many
        permits are used (a full bucket stays full, three used of ten become three used of
        four, and refill at the new rate)."""
        state[0] = min(old.owed(state, now), self.burst)
        state[1] = now
