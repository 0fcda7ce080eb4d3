"""Retry budget: retries limited to a share of recent calls plus a floor (Finagle, Envoy).

With a budget of ``ratio=0.2, min_per_second=10, ttl=10``, a client may retry 20% of the calls
it made in the last 10 seconds, plus 10 retries per second whatever the traffic. When a
dependency fails hard, retries stop at that share instead of multiplying its load by the
number of attempts.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from buttress._clock import Clock, monotonic
from buttress.state._base import OnStoreFailure, StateStore, check_on_store_failure

if TYPE_CHECKING:
    from buttress.resilience._shared_budget import SharedRetryBudget

__all__ = ["RetryBudget"]


@dataclass(frozen=True, slots=True)
class _Options:
    ratio: float
    min_per_second: float
    ttl: int

    def __post_init__(self) -> None:
        if not 0 <= self.ratio <= 1000:
            raise ValueError(
                f"retry budget ratio={self.ratio!r}: expected 0..1000 (0.2 = 20% of calls)"
            )
        if self.min_per_second < 0:
            raise ValueError(f"retry budget min_per_second={self.min_per_second!r}: expected >= 0")
        if not isinstance(self.ttl, int) or self.ttl < 1:
            raise ValueError(f"retry budget ttl={self.ttl!r}: expected whole seconds >= 1")


class RetryBudget:
    """Counts calls (:meth:`deposit`) and retries (:meth:`try_withdraw`) over the last ``ttl``
    seconds, in one-second buckets. Share one budget between the retries that call the same
    dependency.

    Counting a call takes no lock: under heavy thread contention a deposit can be lost, which
    only makes the budget slightly stricter. Withdrawals are exact (under a lock).

    Built with :meth:`shared` and a shared :class:`~buttress.state.RedisStore` (a
    :class:`SharedRetryBudget`), every process naming the budget draws from one: calls are
    counted locally and sent in batches, each retry is one round trip. ``on_store_failure``
    (``local``, ``allow``, ``deny``) says what a retry gets while the store does not answer.
    """

    @classmethod
    def shared(
        cls,
        *,
        name: str,
        store: StateStore,
        on_store_failure: OnStoreFailure = "local",
        **kwargs: Any,
    ) -> SharedRetryBudget:
        """A budget every process naming it draws from: ``store`` is a shared store
        (:class:`~buttress.state.RedisStore`); the other arguments are the constructor's.

        Raises:
            ValueError: ``store`` keeps its state in this process (nothing to share).
        """
        from buttress.resilience._shared_budget import SharedRetryBudget

        return SharedRetryBudget(
            name=name, store=store, on_store_failure=on_store_failure, **kwargs
        )

    def __init__(
        self,
        *,
        ratio: float = 0.2,
        min_per_second: float = 10.0,
        ttl: int = 10,
        clock: Clock = monotonic,
        name: str = "retry_budget",
        store: StateStore | None = None,
        on_store_failure: OnStoreFailure = "local",
    ) -> None:
        check_on_store_failure(on_store_failure)
        if store is not None and store.shared:
            raise TypeError(
                f"RetryBudget(store=...) keeps its state in this process: for state shared "
                f"through {type(store).__name__}, build it with RetryBudget.shared(...)"
            )
        self.name = name
        self._listeners: tuple[Any, ...] = ()
        self.options = _Options(ratio, min_per_second, ttl)
        self._clock = clock
        self._lock = threading.Lock()
        self._calls = [0] * ttl
        self._retries = [0] * ttl
        self._sec = int(clock())
        self._cur = self._sec % ttl

    def _roll(self, sec: int) -> None:
        with self._lock:
            if sec <= self._sec:
                return
            n = self.options.ttl
            for s in range(max(self._sec + 1, sec - n + 1), sec + 1):
                self._calls[s % n] = 0
                self._retries[s % n] = 0
            self._sec = sec
            self._cur = sec % n

    @property
    def store_mode(self) -> str:
        """``memory`` (in-process); a shared budget reports ``shared`` or its failure mode."""
        return "memory"

    def deposit(self) -> None:
        """Count one call (each first attempt)."""
        sec = int(self._clock())
        if sec != self._sec:
            self._roll(sec)
        self._calls[self._cur] += 1

    def try_withdraw(self) -> bool:
        """Take one retry from the budget; ``False`` when the budget is spent."""
        sec = int(self._clock())
        if sec != self._sec:
            self._roll(sec)
        o = self.options
        with self._lock:
            allowed = o.min_per_second * o.ttl + o.ratio * sum(self._calls)
            if sum(self._retries) + 1 > allowed:
                return False
            self._retries[self._cur] += 1
            return True

    def snapshot(self) -> dict[str, float]:
        """Calls and retries counted in the window, and how many retries are left."""
        self._roll(int(self._clock()))
        o = self.options
        with self._lock:
            calls, retries = sum(self._calls), sum(self._retries)
        return {
            "calls": calls,
            "retries": retries,
            "available": max(0.0, o.min_per_second * o.ttl + o.ratio * calls - retries),
        }
